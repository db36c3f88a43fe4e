import 'reflect-metadata';
import { createApp, shutdownOnSignals } from './app.factory.js';
import { ConfigError, loadConfig } from './config/app-config.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
const app = await createApp(config);
shutdownOnSignals(app, config);
await app.listen({ port: config.http.port, host: config.http.host });
