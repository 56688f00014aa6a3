import { defineConfig } from 'tsup';
import { appConfig } from '../../tsup.preset';

export default defineConfig(appConfig({ workers: ['src/datapath-worker.ts'], external: ['prom-client', 'koffi'] }));
