export {
  ERROR_CODES,
  codeFromWire,
  type ErrorCategory,
  type ErrorCode,
  type ErrorSpec,
} from './error-codes.js';
export { FerryError, isFerryError, toFerryError } from './ferry-error.js';
export { EXIT_CODES } from './exit-codes.js';
export { BYTE_UNITS, formatBytes } from './format-bytes.js';
export {
  escapeForTerminal,
  escapeJsonText,
  escapeStringFields,
  jsonForTerminal,
} from './escape-for-terminal.js';
