// The data: the bundled data sets (data/index.json), a CSV file chosen or dropped (plain or gzip),
// the checks before the worker reads it (size, binary or not UTF-8), the label column, and the
// summary and preview of what the worker loaded. A new file refills the schedule fields from the
// preset for its rows (training.js's fillConfig).

import { cancelDemo } from './demo.js';
import { rpc } from './rpc.js';
import { $, announce, guarded, showError, state, updateButtons } from './state.js';
import { fillConfig } from './training.js';

// The largest file the page reads (CSV or bundle). The whole file is held in memory (in the
// page, then parsed in the WebAssembly module, whose memory cannot exceed 4 GB): 512 MB leaves
// room for the parsed table and training. Larger files: the CLI (`da3d score` streams).
const MAX_FILE_BYTES = 512 * 1024 * 1024;
const MB = 1024 * 1024;

/** Fill the data-set list from data/index.json (written by scripts/build-web.sh). */
export async function listDatasets() {
  try {
    const res = await fetch('data/index.json');
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const { datasets } = await res.json();
    const select = $('dataset');
    select.replaceChildren();
    for (const d of datasets) {
      const size = d.bytes ? ` — ${(d.bytes / 1e6).toFixed(1)} MB` : '';
      select.append(new Option(`${d.title}${size}`, d.file));
      select.lastChild.dataset.name = d.name;
    }
    if (!datasets.length) select.append(new Option('(none found)', ''));
  } catch (e) {
    showError(`The list of bundled data sets (data/index.json) could not be read: ${e.message}. Build the page with scripts/build-web.sh.`);
  }
  updateButtons();
}

const megabytes = (bytes) => `${(bytes / MB).toFixed(bytes < 10 * MB ? 1 : 0)} MB`;

/** Refuse a file larger than the page can hold, before reading it (`file.size` only). */
export function checkSize(file, what) {
  if (file.size > MAX_FILE_BYTES) {
    throw new Error(`“${file.name}” is ${megabytes(file.size)}: too large for this page, which reads ${what} of up to ` +
      `${MAX_FILE_BYTES / MB} MB (it holds the whole file in memory). For larger files use the command line: ` +
      '“da3d score” streams a CSV of any size.');
  }
}

/**
 * What the first 64 KB say about a file that is not gzip: `utf8` false when they are not UTF-8
 * text; `binary` when they hold control bytes no text file has (a picture, an archive, random
 * bytes); `nul` the line of the first NUL byte.
 */
function sniff(bytes) {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return { utf8: true, binary: false, nul: null };
  const head = bytes.subarray(0, 65536);
  let utf8 = true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true }); // a character cut at the end is fine
  } catch {
    utf8 = false;
  }
  const binary = head.some((b) => (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) || b === 0x7f);
  const at = head.indexOf(0);
  const nul = at < 0 ? null : head.subarray(0, at).reduce((n, b) => n + (b === 0x0a), 1);
  return { utf8, binary, nul };
}

async function loadFile(file) {
  await guarded(async () => {
    checkSize(file, 'CSV files');
    if (file.size === 0) throw new Error(`“${file.name}” is empty: a CSV file needs a header row and data rows.`);
    let bytes;
    try {
      bytes = new Uint8Array(await file.arrayBuffer());
    } catch (e) {
      throw new Error(`“${file.name}” could not be read (${e.message}).`);
    }
    const { utf8, binary, nul } = sniff(bytes);
    // NUL bytes in what is otherwise UTF-8: the CSV reader would take them as text.
    if (utf8 && nul) throw new Error(`“${file.name}” is not a CSV file: line ${nul} holds a NUL byte (binary data, not text).`);
    // Otherwise the CSV reader decides; its error names the line and column. A picture or
    // random bytes fail on the first bytes that are not UTF-8.
    const why = binary ? 'is not a CSV file (it holds binary data, not text)' : !utf8 ? 'is not UTF-8 text (save it as UTF-8 CSV)' : null;
    await loadBytes(bytes, file.name, null, why);
  });
}

async function loadDataset() {
  const option = $('dataset').selectedOptions[0];
  if (!option || !option.value) return;
  await guarded(async () => {
    const res = await fetch(option.value);
    if (!res.ok) throw new Error(`The data set ${option.value} could not be fetched (HTTP ${res.status}).`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    await loadBytes(bytes, option.textContent.replace(/ — .*$/, ''), option.dataset.name);
  });
}

async function loadBytes(bytes, name, dataset, notCsv = null) {
  const options = { label: 'label', ignore: [], dataset };
  let summary;
  try {
    summary = await rpc('load', { bytes: bytes.buffer, options }, [bytes.buffer]);
  } catch (e) {
    throw new Error(notCsv ? `“${name}” ${notCsv}: ${e.message}` : `Could not read “${name}”: ${e.message}`);
  }
  state.sourceName = name;
  state.dataset = dataset;
  state.scored = null;
  await fillConfig();
  showSummary(summary);
  announce(`Loaded ${name}: ${summary.rows} rows.`);
}

/** Reload the same bytes with another label column. */
async function changeLabel() {
  // '' = no label column: a name that matches no column (null would keep the default "label").
  const label = $('label-col').value;
  await guarded(async () => {
    const summary = await rpc('load', { options: { label, ignore: [], dataset: state.dataset } });
    state.scored = null;
    showSummary(summary);
  });
}

/** Show what the worker loaded (its load_csv summary): the label list, the summary line, the preview. */
export function showSummary(summary) {
  cancelDemo(); // the demonstration trained on the data before
  state.summary = summary;
  state.dataVersion += 1;
  const select = $('label-col');
  select.replaceChildren(new Option('(no label column)', ''));
  for (const h of summary.headers) select.append(new Option(h, h));
  select.value = summary.label || '';
  const parts = [`${state.sourceName}: ${summary.rows.toLocaleString('en')} rows`, `${summary.columns.length} feature columns`];
  if (summary.anomalies !== null) parts.push(`${summary.anomalies.toLocaleString('en')} anomalies (label “${summary.label}”)`);
  else parts.push('no labels: every row trains, no ROC/PR curves');
  if (summary.dropped) parts.push(`${summary.dropped} rows with missing values dropped`);
  if (summary.ignored && summary.ignored.length) parts.push(`ignored: ${summary.ignored.join(', ')}`);
  $('data-summary').textContent = parts.join(' · ');
  renderPreview(summary);
  updateButtons();
}

function renderPreview(summary) {
  const head = document.createElement('tr');
  for (const h of summary.headers) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    if (h === summary.label) th.className = 'label-col';
    head.append(th);
  }
  $('preview').tHead.replaceChildren(head);
  const rows = summary.preview.map((fields) => {
    const tr = document.createElement('tr');
    fields.forEach((f, i) => {
      const td = document.createElement('td');
      td.textContent = f;
      if (summary.headers[i] === summary.label) td.className = 'label-col';
      tr.append(td);
    });
    return tr;
  });
  $('preview').tBodies[0].replaceChildren(...rows);
  $('preview').caption.textContent = `First ${summary.preview.length} rows of ${state.sourceName}`;
}

/** The data set list, the file input, the label column and the drop zone. */
export function initData() {
  $('dataset').addEventListener('change', updateButtons);
  $('load-dataset').addEventListener('click', loadDataset);
  $('csv-file').addEventListener('change', () => {
    const file = $('csv-file').files[0];
    if (file) loadFile(file);
  });
  $('label-col').addEventListener('change', changeLabel);

  // The drop zone: the file input inside it is the keyboard path.
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (!file) return;
    if (state.busy || state.training) showError('Wait until the current work ends before loading another file.');
    else loadFile(file);
  });
}
