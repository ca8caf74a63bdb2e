// The one policy for peers' strings shown to a person lives beside the errors that carry most of them, so the
// dashboard (src/web) applies the very same rule as the terminal (docs/SECURITY.md "Terminal output").
export { escapeForTerminal, escapeJsonText, escapeStringFields, jsonForTerminal } from '../errors/index.js';
