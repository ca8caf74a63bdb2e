export {
  Dashboard,
  startDashboard,
  DEFAULT_DASHBOARD_PORT,
  type DashboardOptions,
} from './dashboard-server.js';
export {
  DashboardState,
  isResumable,
  type DashboardClient,
  type DashboardInvite,
  type DashboardSnapshot,
  type DashboardStorage,
  type RefusedView,
  type LiveTransferView,
  type RecentTransferView,
} from './dashboard-state.js';
export { isLoopbackHost } from './loopback-host.js';
