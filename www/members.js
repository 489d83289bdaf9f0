// The ensemble's members trained in parallel on the CPU: a fan-out over helper workers.
//
// Worker j starts with member j, then takes the next member not yet started; each member comes
// back as its weights (a 'member' event), and worker 0 makes the model of them all (`assemble`):
// the same model as training them one after another on one worker. The page sees one run: one
// progress over all members, one 'finished' or 'error' at the end.
//
// Interface (training.js is its only user):
//   CORES, workerCount(members)       how many workers a run of `members` uses on the CPU
//   trainParallel(settings, rate, n, hooks)
//                                     start a run on n workers; resolves with worker 0's start
//                                     answer, its progress made the whole run's (null when the
//                                     run ended while starting). `hooks`: {progress(msg),
//                                     heldout(msg), finished({results, stopped, seconds}),
//                                     error({error}), assembling(members)}
//   helperEvent(msg), memberDone(msg) the events of helper workers, and worker 0's 'member' event
//   isParallel(), parallelMembers(), memberOf(from)
//                                     whether a run goes on, its members, the member worker
//                                     `from` trains now
//   runProgress(from, progress)       record a worker's progress; the whole run's progress
//   trainingWorkers()                 the workers training now (worker 0 alone outside a run)
//   stopParallel()                    Stop: no further member starts; the model is made of the
//                                     members as they are
//   stopHelpers()                     end the run without a model (worker 0 failed or was renewed)
//   withData(w, copies)               worker w started on the CPU and holding the loaded data (the
//                                     demonstration member's worker, demo.js, is readied so too)

import { rpc, startWorker, workers } from './rpc.js';
import { state } from './state.js';

// Parallel workers: at most this many, and never more than the machine's logical cores.
const MAX_WORKERS = 8;
export const CORES = Math.max(1, Number(navigator.hardwareConcurrency) || 1);

/** The workers a run of `members` members uses on the CPU (1: no parallel run). */
export const workerCount = (members) => Math.min(members, CORES, MAX_WORKERS);

let run = null; // the parallel run going on: see trainParallel
let lead = null; // worker 0's last progress (the phase and epoch shown for the whole run)

/**
 * Worker `w` started on the CPU and holding the loaded data; `copies` ({}) keeps worker 0's copy
 * of the data for the next worker readied with it.
 */
export async function withData(w, copies = {}) {
  if (!w.inited) {
    await w.rpc('init', { preferGpu: false });
    w.inited = true;
  }
  if (w.dataVersion !== state.dataVersion) {
    const version = state.dataVersion;
    copies.copy ||= await rpc('dataCopy');
    const bytes = copies.copy.bytes.slice(0);
    await w.rpc('load', { bytes, options: copies.copy.options }, [bytes]);
    w.dataVersion = version;
  }
}

/** Workers 1..n-1 started, on the CPU, holding the loaded data. */
async function helpers(n) {
  while (workers.length < n) workers.push(startWorker(workers.length));
  const copies = {};
  for (const h of workers.slice(1, n)) await withData(h, copies);
  return workers.slice(0, n);
}

/** Train the ensemble's members on `n` workers (see the header). */
export async function trainParallel(settings, thresholdRate, n, hooks) {
  const pool = await helpers(n);
  const members = settings.members;
  run = {
    settings,
    thresholdRate,
    members,
    next: n,
    weights: new Array(members).fill(null),
    running: new Map(), // worker index → member
    steps: new Map(), // worker index → steps done in its current member
    stepsPerMember: 0,
    doneMembers: 0,
    stopping: false,
    failed: false,
    pool,
    hooks,
  };
  const started = run;
  const answers = await Promise.all(pool.map((w, j) => {
    started.running.set(w.index, j);
    return w.rpc('train', { settings, thresholdRate, member: j });
  }));
  started.stepsPerMember = answers[0].progress.steps_total;
  // (a run that failed or was ended while its workers started has said so through its hooks)
  if (run !== started) return null;
  return { ...answers[0], progress: wholeProgress(started, answers[0].progress) };
}

/** One progress for the whole parallel run (the phase and epoch shown are worker 0's). */
function wholeProgress(r, p) {
  let done = r.doneMembers * r.stepsPerMember;
  for (const v of r.steps.values()) done += v;
  const training = [...r.running.values()].map((m) => m + 1).sort((a, b) => a - b);
  return { ...p, steps_done: done, steps_total: r.members * r.stepsPerMember, members: r.members, training };
}

export const isParallel = () => run !== null;
export const parallelMembers = () => (run ? run.members : 0);
export const memberOf = (from) => (run ? run.running.get(from) : undefined);

/**
 * A worker's progress in the run: its steps count; the answer is the whole run's progress, with
 * the phase and epoch of worker 0 (of `progress` itself until worker 0 has reported).
 */
export function runProgress(from, progress) {
  run.steps.set(from, progress.steps_done);
  if (from === 0) lead = progress;
  return wholeProgress(run, from === 0 ? progress : lead || progress);
}

/** Events of helper workers (1, 2, …); worker 0's go to training.js's handlers. */
export function helperEvent(msg) {
  if (!run) return; // an answer of a run that ended
  if (msg.event === 'progress') run.hooks.progress(msg);
  else if (msg.event === 'heldout') run.hooks.heldout(msg);
  else if (msg.event === 'member') memberDone(msg);
  else if (msg.event === 'error' || msg.event === 'renewed') {
    // A helper's workbench failed: the run stops; the message says why.
    if (msg.event === 'renewed') workers[msg.from].dataVersion = -1;
    parallelFailed(msg.error);
  }
}

/** End a parallel run without a model (worker 0 failed): the helpers stop, their members are dropped. */
export function stopHelpers() {
  if (!run) return;
  const ended = run;
  run = null;
  for (const w of ended.pool.slice(1)) w.rpc('stop').catch(() => {});
}

function parallelFailed(error) {
  if (!run || run.failed) return;
  const failed = run;
  failed.failed = true;
  run = null;
  for (const w of failed.pool) w.rpc('stop').catch(() => {});
  failed.hooks.error({ error: `A training worker failed: ${error}` });
}

/** A worker's member is trained: keep its weights, give the worker the next member, or assemble. */
export async function memberDone({ from, member, bytes }) {
  const r = run;
  if (!r) return;
  r.weights[member] = bytes;
  r.running.delete(from);
  r.steps.delete(from);
  r.doneMembers += 1;
  const worker = workers[from];
  if (!r.stopping && r.next < r.members) {
    const next = r.next++;
    r.running.set(from, next);
    try {
      await worker.rpc('train', { settings: r.settings, thresholdRate: r.thresholdRate, member: next });
      if (state.paused) await worker.rpc('pause');
    } catch (e) {
      parallelFailed(e.message);
    }
    return;
  }
  if (r.running.size > 0) return;
  // Every started member is back: the model of them, in member order.
  const weights = r.weights.filter(Boolean);
  const settings = { ...r.settings, members: weights.length };
  r.hooks.assembling(weights.length);
  try {
    const { results, seconds } = await rpc('assemble', { settings, thresholdRate: r.thresholdRate, members: weights }, weights);
    run = null;
    r.hooks.finished({ results, stopped: r.stopping, seconds });
  } catch (e) {
    run = null;
    r.hooks.error({ error: `Making the model failed: ${e.message}` });
  }
}

/** The workers training now (worker 0 alone, or the parallel run's). */
export function trainingWorkers() {
  return run ? run.pool.filter((w) => run.running.has(w.index)) : [workers[0]];
}

/** Stop pressed: members that end start no others; the model is made of the members as they are. */
export function stopParallel() {
  if (run) run.stopping = true;
}
