export { startServer, type RunningServer, type StartOptions } from './start.ts';
export { createApp, createServices, type AppDependencies, type Services } from './app.ts';
