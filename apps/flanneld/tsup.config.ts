import { defineConfig } from 'tsup';
import { appConfig } from '../../tsup.preset';

export default defineConfig(appConfig({ workers: ['src/datapath-worker.ts'], external: ['etcd3', 'prom-client', 'koffi'] }));
