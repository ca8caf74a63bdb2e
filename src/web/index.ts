export {
  Dashboard,
  startDashboard,
  DEFAULT_DASHBOARD_PORT,
  type DashboardOptions,
} from './dashboard-server.js';
export {
  DashboardState,
  type DashboardClient,
  type DashboardSnapshot,
  type LiveTransferView,
  type RecentTransferView,
} from './dashboard-state.js';
export { isLoopbackHost } from './loopback-host.js';
