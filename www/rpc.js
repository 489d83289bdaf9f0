// The page's workers and the request/answer protocol with them. Each worker is a module Web
// Worker running worker.js (its own WASM instance and Workbench). Worker 0 holds the page's data
// and model and starts with the page; helpers (1, 2, …) train ensemble members in parallel on the
// CPU (members.js starts them); the worker 'demo' trains the DA³D demonstration member (demo.js).
//
// A request is {id, type, ...args}; the worker answers {id, ok, result | error}. Messages without
// id are events ({event: 'progress' | 'heldout' | 'paused' | 'finished' | 'member' | 'error' |
// 'renewed', ...}): they go, with `from` (the worker's index) added, to the handler given to
// `onWorkerEvent`.

import { setBackendText, showError } from './state.js';

let eventHandler = () => {};

/** Where the workers' events go: `handler(msg)`, `msg.from` the worker's index. Set once, at start. */
export function onWorkerEvent(handler) {
  eventHandler = handler;
}

/**
 * Start worker `index` (0, 1, … or 'demo'). Its handle: `index`, `inited` and `dataVersion` (the
 * state.dataVersion of the data loaded into it; members.js keeps both), `rpc(type, args,
 * transfer)` and `terminate()` (end the worker at once; its pending requests fail).
 */
export function startWorker(index) {
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let nextId = 1;
  const handle = {
    index,
    inited: false,
    dataVersion: -1, // state.dataVersion of the data loaded into this worker
    /** Send a request; resolves with its result or rejects with its error message. */
    rpc(type, args = {}, transfer = []) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        w.postMessage({ id, type, ...args }, transfer);
      });
    },
    terminate() {
      w.terminate();
      for (const p of pending.values()) p.reject(new Error('the worker was ended'));
      pending.clear();
    },
  };
  w.onmessage = (e) => {
    const msg = e.data;
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    } else {
      eventHandler({ ...msg, from: index });
    }
  };
  w.onerror = (e) => {
    e.preventDefault();
    showError(`The worker could not start (${e.message || 'script error'}). Was the module built? Run scripts/build-web.sh.`);
    if (index === 0) setBackendText('Module unavailable.', '');
  };
  return handle;
}

/** The workers started so far, by index: worker 0 first, started with the page. */
export const workers = [startWorker(0)];

/** A request to worker 0 (the page's data and model). */
export const rpc = (type, args = {}, transfer = []) => workers[0].rpc(type, args, transfer);
