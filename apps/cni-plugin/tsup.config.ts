import { defineConfig } from 'tsup';
import { singleFileConfig } from '../../tsup.preset';

// One self-contained file: a runtime starts the plugin once per container, so it must load nothing else (the
// workspace packages and ip-num are bundled in; no etcd3, grpc, prom-client or koffi are reachable from here).
// `flannel install` copies this one file to /opt/cni/bin/flannel.
export default defineConfig(singleFileConfig({ entry: { flannel: 'src/main.ts' }, bundled: ['ip-num'] }));
