// The udp backend's data-path worker, built next to the bundled backend (dist/datapath-worker.js), where its
// forwarder looks for it.
import '@flannel-ts/backend-udp/datapath-worker';
