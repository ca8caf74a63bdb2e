export { ClientSession, CONNECT_TIMEOUT_MS, STALL_TIMEOUT_MS, type ClientSessionOptions, type ServerAddress } from './client-session.js';
export { uploadFile, type UploadOptions, type UploadResult } from './upload-file.js';
export { sendFiles, type SendFilesOptions, type SendEvent } from './send-files.js';
export { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from './retry-policy.js';
