export { startServer, type RunningServer, type StartOptions } from './start.ts';
export { composeTessera, type ComposeOptions, type Services, type Tessera } from './compose.ts';
