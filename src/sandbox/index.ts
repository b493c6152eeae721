/**
 * The sandbox simulator of the app's miles partner API: a stateful, strict, in-memory
 * implementation of UPSTREAM.md, for local development, tests and benchmarks.
 */
export { startSandbox } from './server';
export { createSandboxHandler, DEFAULT_BASE_PATH, MAX_BODY_BYTES } from './pipeline';
export { DEMO_PROGRAM } from './demo-program';
export { ENDPOINT_PATHS } from './endpoints';
export { ErrorCode, SandboxRefusal, type ErrorCodeValue } from './errors';
export { encodeJson, reEncodeJson, type JsonStyle } from './json-text';
export { CALL_LOG_CAPACITY } from './call-log';
export { MAX_USER_TOKENS_PER_USER } from './state';
export type {
  FaultKind,
  FaultRule,
  Sandbox,
  SandboxCall,
  SandboxControls,
  SandboxHandler,
  SandboxHandlerOptions,
  SandboxOptions,
  SandboxPartner,
  SandboxReadings,
  SandboxRequestHandler,
  SandboxServerOptions,
} from './types';
export type { AdKind, LocalisedText, ProgramAction, ProgramAd, ProgramDefinition, ProgramGift, ProgramLang } from './program-types';
