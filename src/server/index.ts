export { FerryServer, SERVER_IDLE_TIMEOUT_MS, type ServeOptions } from './ferry-server.js';
export { type ClientGrant, type Authorize } from './session-io.js';
