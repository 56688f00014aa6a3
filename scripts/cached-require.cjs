'use strict';
/**
 * Loads a bundled CommonJS file (an app's `etcd3.cjs`) with V8's code cache: the functions compiled when the build
 * exercised it are read from `<file>.cache` (written by write-code-cache.mjs) instead of being parsed and compiled
 * again at every start. V8 accepts a cache only from the same V8 version and the same flags (the app's `#!` line),
 * and checks it itself: a missing or rejected cache just means the file is compiled as usual.
 *
 * The preset copies this file next to the app's chunks; the app, write-code-cache.mjs and its tests all load
 * through this one function, so the cache is made exactly as it is read.
 */
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

/**
 * @param {string} file absolute path of the CommonJS file
 * @returns {{ exports: any, script: import('node:vm').Script, cache: 'used' | 'rejected' | 'none' }}
 */
function loadCached(file) {
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  // A module as require() makes it, listed in require.cache (what loaded it is then visible as for any module).
  const module = new Module(file, null);
  module.filename = file;
  module.paths = Module._nodeModulePaths(dirname(file));
  require.cache[file] = module;
  script.runInThisContext().call(module.exports, module.exports, Module.createRequire(file), module, file, dirname(file));
  module.loaded = true;
  return { exports: module.exports, script, cache: cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used' };
}

module.exports = { loadCached };
