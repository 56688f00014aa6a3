import { defineConfig } from 'tsup';
import { appConfig } from '../../tsup.preset';

export default defineConfig(appConfig());
