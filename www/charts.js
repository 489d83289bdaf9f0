// Canvas charts without a library: line charts (and the loss charts made of them), a scatter
// plot, a scatter plot over a probability map, and a histogram with a threshold marker. Every
// function draws the whole chart, sets the canvas's aria-label to a text description of what it
// shows, and records in `canvas.dataset.points` how many data points it drew (the page tests
// read it).

export const COLORS = ['#1f6fb4', '#d62728', '#e07b00', '#2a9d2a', '#8a5cc2', '#8c564b', '#d44fa6', '#128a96'];
const BACKGROUND = '#ffffff';
const AXIS = '#5b6470';
const GRID = '#e6e9ee';
const TEXT = '#1d2430';
const FONT = '12px system-ui, sans-serif';
const PAD = { left: 54, right: 14, top: 14, bottom: 40 };

/** Size the canvas to its CSS box (sharp on high-DPI screens); returns a 2-D context in CSS pixels. */
function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(200, Math.round(canvas.clientWidth || Number(canvas.getAttribute('width')) || 400));
  const height = Math.max(140, Math.round(canvas.clientHeight || Number(canvas.getAttribute('height')) || 260));
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, width, height);
  ctx.font = FONT;
  return { ctx, width, height };
}

/** A linear scale from [d0, d1] onto [r0, r1]. */
function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  const f = (v) => r0 + ((v - d0) / span) * (r1 - r0);
  f.invert = (p) => d0 + ((p - r0) / (r1 - r0)) * span;
  return f;
}

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  // Whole multiples of the step: a sum of steps drifts (0.05 × 3 − 0.15 is not 0).
  const out = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) out.push(+(k * step).toPrecision(12));
  return out;
}

export function formatNumber(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(+v.toPrecision(3));
}

/** Draw axes, grid and labels for the given scales inside the plot box. */
function axes(ctx, height, box, x, y, xDomain, yDomain, labels) {
  ctx.lineWidth = 1;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'center';
  for (const t of ticks(xDomain[0], xDomain[1], labels.xTicks || 5)) {
    const px = Math.round(x(t)) + 0.5;
    ctx.strokeStyle = GRID;
    ctx.beginPath(); ctx.moveTo(px, box.top); ctx.lineTo(px, box.bottom); ctx.stroke();
    ctx.fillStyle = AXIS;
    ctx.fillText(labels.xFormat ? labels.xFormat(t) : formatNumber(t), px, box.bottom + 4);
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const t of ticks(yDomain[0], yDomain[1], 4)) {
    const py = Math.round(y(t)) + 0.5;
    ctx.strokeStyle = GRID;
    ctx.beginPath(); ctx.moveTo(box.left, py); ctx.lineTo(box.right, py); ctx.stroke();
    ctx.fillStyle = AXIS;
    ctx.fillText(labels.yFormat ? labels.yFormat(t) : formatNumber(t), box.left - 5, py);
  }
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(box.left + 0.5, box.top + 0.5, box.right - box.left, box.bottom - box.top);
  ctx.fillStyle = TEXT;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  if (labels.x) ctx.fillText(labels.x, (box.left + box.right) / 2, height - 3);
  if (labels.y) {
    ctx.save();
    ctx.translate(12, (box.top + box.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(labels.y, 0, 0);
    ctx.restore();
  }
}

/**
 * The plot box below a legend: the legend's items ([{name, color, marker?, dash?}]) are laid out
 * in rows above the plot, so that they never hide data. Returns {box, draw} where draw() paints
 * the legend.
 */
function layout(ctx, width, height, items) {
  ctx.font = FONT;
  const rows = [[]];
  let x = PAD.left;
  for (const item of items) {
    const w = ctx.measureText(item.name).width + 34;
    if (x + w > width - PAD.right && rows[rows.length - 1].length) {
      rows.push([]);
      x = PAD.left;
    }
    rows[rows.length - 1].push({ item, x });
    x += w;
  }
  const legendHeight = items.length ? rows.length * 16 + 4 : 0;
  const box = { left: PAD.left, right: width - PAD.right, top: PAD.top + legendHeight, bottom: height - PAD.bottom };
  const draw = () => {
    rows.forEach((row, r) => {
      const cy = 12 + r * 16;
      for (const { item, x: x0 } of row) {
        ctx.strokeStyle = item.color;
        ctx.fillStyle = item.color;
        if (item.marker) marker(ctx, item.marker, x0 + 10, cy, 4);
        else {
          ctx.lineWidth = 2;
          ctx.setLineDash(item.dash || []);
          ctx.beginPath(); ctx.moveTo(x0 + 2, cy); ctx.lineTo(x0 + 20, cy); ctx.stroke();
          ctx.setLineDash([]);
        }
        ctx.fillStyle = TEXT;
        ctx.textAlign = 'left';
        ctx.textBaseline = 'middle';
        ctx.fillText(item.name, x0 + 24, cy);
      }
    });
  };
  return { box, draw };
}

/** Distinct marker shapes, so the groups differ by more than colour. */
function marker(ctx, shape, x, y, r) {
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  if (shape === 'cross') {
    ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r);
    ctx.moveTo(x - r, y + r); ctx.lineTo(x + r, y - r);
    ctx.stroke();
  } else if (shape === 'triangle') {
    ctx.moveTo(x, y - r - 1); ctx.lineTo(x + r + 1, y + r); ctx.lineTo(x - r - 1, y + r); ctx.closePath();
    ctx.fill();
  } else if (shape === 'square') {
    ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
  } else {
    ctx.arc(x, y, r * 0.75, 0, 2 * Math.PI);
    ctx.fill();
  }
}

function extent(values, pad = 0) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

function emptyMessage(ctx, width, height, text) {
  ctx.fillStyle = AXIS;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, width / 2, height / 2);
}

/**
 * Line chart. `series`: [{name, points: [[x, y], ..], color?, dash?}].
 * Options: xLabel, yLabel, xDomain, yDomain, description (prefix of the aria-label), empty (text).
 */
export function lineChart(canvas, series, options = {}) {
  const { ctx, width, height } = setup(canvas);
  const all = series.flatMap((s) => s.points);
  canvas.dataset.points = String(all.length);
  if (all.length === 0) {
    emptyMessage(ctx, width, height, options.empty || 'No data yet');
    canvas.setAttribute('aria-label', `${options.description || 'Chart'}: ${options.empty || 'no data yet'}.`);
    return;
  }
  const xDomain = options.xDomain || extent(all.map((p) => p[0]), 0.04);
  const yDomain = options.yDomain || extent(all.map((p) => p[1]), 0.08);
  const items = series.length > 1 || options.legend
    ? series.map((s, i) => ({ name: s.name, color: s.color || COLORS[i % COLORS.length], dash: s.dash }))
    : [];
  const { box, draw } = layout(ctx, width, height, items);
  const x = scale(xDomain[0], xDomain[1], box.left, box.right);
  const y = scale(yDomain[0], yDomain[1], box.bottom, box.top);
  axes(ctx, height, box, x, y, xDomain, yDomain, { x: options.xLabel, y: options.yLabel, xTicks: options.xTicks, xFormat: options.xFormat });
  draw();
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.left, box.top, box.right - box.left, box.bottom - box.top);
  ctx.clip();
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    s.points.forEach(([px, py], j) => (j ? ctx.lineTo(x(px), y(py)) : ctx.moveTo(x(px), y(py))));
    ctx.stroke();
    ctx.setLineDash([]);
    // A dot on each point when there are few, so one-epoch curves are visible.
    if (s.points.length <= 40 && !s.dash) for (const [px, py] of s.points) marker(ctx, 'circle', x(px), y(py), 3.5);
  });
  ctx.restore();
  const text = series
    .filter((s) => s.points.length)
    .map((s) => `${s.name}: ${s.points.length} points, last ${formatNumber(s.points[s.points.length - 1][1])}`)
    .join('; ');
  canvas.setAttribute('aria-label', `${options.description || 'Line chart'}. ${text}.`);
}

/** Each group's points as markers, clipped to the plot's box; `alpha` where a group sets none. */
function drawPoints(ctx, box, x, y, groups, alpha) {
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.left, box.top, box.right - box.left, box.bottom - box.top);
  ctx.clip();
  for (const g of groups) {
    ctx.globalAlpha = g.alpha ?? alpha;
    ctx.strokeStyle = g.color;
    ctx.fillStyle = g.color;
    for (const [px, py] of g.points) marker(ctx, g.marker, x(px), y(py), 3);
  }
  ctx.globalAlpha = 1;
  ctx.restore();
}

/**
 * Scatter plot. `groups`: [{name, points: [[x, y], ..], color, marker: 'circle'|'cross'|'triangle'}].
 */
export function scatterChart(canvas, groups, options = {}) {
  const { ctx, width, height } = setup(canvas);
  const all = groups.flatMap((g) => g.points);
  canvas.dataset.points = String(all.length);
  if (all.length === 0) {
    emptyMessage(ctx, width, height, options.empty || 'No data yet');
    canvas.setAttribute('aria-label', `${options.description || 'Scatter plot'}: ${options.empty || 'no data yet'}.`);
    return;
  }
  const xDomain = extent(all.map((p) => p[0]), 0.05);
  const yDomain = extent(all.map((p) => p[1]), 0.05);
  const { box, draw } = layout(ctx, width, height, groups.map((g) => ({ name: `${g.name} (${g.points.length})`, color: g.color, marker: g.marker })));
  const x = scale(xDomain[0], xDomain[1], box.left, box.right);
  const y = scale(yDomain[0], yDomain[1], box.bottom, box.top);
  axes(ctx, height, box, x, y, xDomain, yDomain, { x: options.xLabel, y: options.yLabel });
  draw();
  drawPoints(ctx, box, x, y, groups, 0.7);
  const text = groups.map((g) => `${g.points.length} ${g.name}`).join(', ');
  canvas.setAttribute('aria-label', `${options.description || 'Scatter plot'}: ${text}.`);
}

/**
 * Add an epoch report's losses to `losses` (network → {epochs, series: Map(name → [[epoch,
 * value], ..])}): one x step per report for each network it names. `key(name, network, phase)`
 * names a loss's series. Returns the networks the report touched.
 */
export function recordLosses(losses, report, key) {
  const touched = new Set();
  report.names.forEach((name, i) => {
    const net = report.networks[i]; // the trainer says which network each loss belongs to
    if (!losses.has(net)) losses.set(net, { epochs: 0, series: new Map() });
    const entry = losses.get(net);
    if (!touched.has(net)) {
      entry.epochs += 1;
      touched.add(net);
    }
    const k = key(name, net, report.phase);
    if (!entry.series.has(k)) entry.series.set(k, []);
    entry.series.get(k).push([entry.epochs, report.values[i]]);
  });
  return [...touched];
}

/** One network's losses per epoch (`entry` from recordLosses, or undefined: nothing yet). */
export function lossChart(canvas, entry, { description, empty }) {
  const series = entry ? [...entry.series].map(([name, points], i) => ({ name, points, color: COLORS[i % COLORS.length] })) : [];
  const epochs = entry ? entry.epochs : 1;
  lineChart(canvas, series, {
    xDomain: [0.5, epochs + 0.5], // half an epoch of margin: the first and last points stay clear of the frame
    xLabel: 'epoch',
    yLabel: 'loss',
    description,
    legend: true,
    xFormat: (t) => (Number.isInteger(t) ? String(t) : ''),
    empty,
  });
}

// The probability map's colours along its bar: white at the bottom, through lavender, to violet
// at the top (the points' blue, red and orange stay readable over every shade). A probability's
// place on the bar is its log-odds between those of 0.005 and 0.995: a map of an alarm that is
// sure almost everywhere still shows where it hesitates, as 0.01 and 0.1 differ.
const MAP_STOPS = [[0, [255, 255, 255]], [0.5, [221, 203, 242]], [1, [141, 92, 196]]];
const MAP_ODDS = Math.log(0.995 / 0.005);
const MAP_TICKS = [0.01, 0.1, 0.5, 0.9, 0.99];
function mapPlace(p) {
  const q = Math.min(0.995, Math.max(0.005, Number.isFinite(p) ? p : 0));
  return (Math.log(q / (1 - q)) + MAP_ODDS) / (2 * MAP_ODDS);
}
function mapColor(v) {
  const k = v <= MAP_STOPS[1][0] ? 0 : 1;
  const [[p0, c0], [p1, c1]] = [MAP_STOPS[k], MAP_STOPS[k + 1]];
  const t = (v - p0) / (p1 - p0);
  return c0.map((c, i) => Math.round(c + (c1[i] - c) * t));
}
const MAP_BAR = 50; // room right of the plot for the colour bar and its ticks

/**
 * Points over a probability map. `map`: {x: [x0, x1], y: [y0, y1], size, probability} (row j of
 * `probability` the j-th grid value of y from y0 up, its entries x from x0 to x1), shaded from
 * white (0) to violet (1) by log-odds (MAP_STOPS) with a colour bar; null: the points alone. `groups` as scatterChart's,
 * drawn on top; points outside the map are clipped. Options: xLabel, yLabel, description, empty,
 * mapName (the shading's legend entry). `canvas.dataset.groups`: each group's drawn points.
 */
export function mapChart(canvas, map, groups, options = {}) {
  const { ctx, width, height } = setup(canvas);
  const all = groups.flatMap((g) => g.points);
  canvas.dataset.points = String(all.length);
  canvas.dataset.groups = JSON.stringify(Object.fromEntries(groups.map((g) => [g.name, g.points.length])));
  canvas.dataset.map = map ? String(map.size) : '0';
  if (all.length === 0 && !map) {
    emptyMessage(ctx, width, height, options.empty || 'No data yet');
    canvas.setAttribute('aria-label', `${options.description || 'Map'}: ${options.empty || 'no data yet'}.`);
    return;
  }
  const xDomain = map ? map.x : extent(all.map((p) => p[0]), 0.05);
  const yDomain = map ? map.y : extent(all.map((p) => p[1]), 0.05);
  const items = groups.map((g) => ({ name: `${g.name} (${g.points.length})`, color: g.color, marker: g.marker }));
  if (map) items.push({ name: options.mapName || 'probability', color: `rgb(${mapColor(0.85).join(',')})`, marker: 'square' });
  const { box, draw } = layout(ctx, width, height, items);
  if (map) box.right -= MAP_BAR;
  const x = scale(xDomain[0], xDomain[1], box.left, box.right);
  const y = scale(yDomain[0], yDomain[1], box.bottom, box.top);
  let low = Infinity;
  let high = -Infinity;
  if (map) {
    // One pixel per grid point, scaled smoothly onto the plot: grid points are the pixels'
    // centres, so the image reaches half a cell past the first and last of them.
    const n = map.size;
    const image = document.createElement('canvas');
    image.width = n;
    image.height = n;
    const pixels = image.getContext('2d').createImageData(n, n);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const p = map.probability[j * n + i];
        if (p < low) low = p;
        if (p > high) high = p;
        const o = ((n - 1 - j) * n + i) * 4; // image rows run from the top: y from its highest value
        const [r, g, b] = mapColor(mapPlace(p));
        pixels.data[o] = r;
        pixels.data[o + 1] = g;
        pixels.data[o + 2] = b;
        pixels.data[o + 3] = 255;
      }
    }
    image.getContext('2d').putImageData(pixels, 0, 0);
    const half = (d) => (n > 1 ? (d[1] - d[0]) / (n - 1) / 2 : 0);
    const [left, right] = [x(xDomain[0] - half(xDomain)), x(xDomain[1] + half(xDomain))];
    const [top, bottom] = [y(yDomain[1] + half(yDomain)), y(yDomain[0] - half(yDomain))];
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.right - box.left, box.bottom - box.top);
    ctx.clip();
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(image, left, top, right - left, bottom - top);
    ctx.restore();
    // The colour bar, its ticks at probabilities.
    const barX = box.right + 10;
    const bar = ctx.createLinearGradient(0, box.bottom, 0, box.top);
    for (const [p] of MAP_STOPS) bar.addColorStop(p, `rgb(${mapColor(p).join(',')})`);
    ctx.fillStyle = bar;
    ctx.fillRect(barX, box.top, 10, box.bottom - box.top);
    ctx.strokeStyle = AXIS;
    ctx.strokeRect(barX + 0.5, box.top + 0.5, 10, box.bottom - box.top);
    ctx.fillStyle = AXIS;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    for (const t of MAP_TICKS) ctx.fillText(String(t), barX + 14, box.bottom - mapPlace(t) * (box.bottom - box.top));
  }
  axes(ctx, height, box, x, y, xDomain, yDomain, { x: options.xLabel, y: options.yLabel });
  draw();
  drawPoints(ctx, box, x, y, groups, 0.8);
  const shading = map
    ? `; shading: ${options.mapName || 'probability'} over a ${map.size} × ${map.size} grid, from ${formatNumber(low)} to ${formatNumber(high)}`
    : '';
  const text = groups.map((g) => `${g.points.length} ${g.name}`).join(', ');
  canvas.setAttribute('aria-label', `${options.description || 'Map'}: ${text || 'no points'}${shading}.`);
}

/**
 * Histogram of scores, split by label when labels are given, with a threshold line.
 * Returns the x scale so that the caller can map a pointer position to a score.
 */
export function histogram(canvas, scores, labels, threshold, options = {}) {
  const { ctx, width, height } = setup(canvas);
  canvas.dataset.points = String(scores.length);
  if (scores.length === 0) {
    emptyMessage(ctx, width, height, options.empty || 'No scores yet');
    canvas.setAttribute('aria-label', `Score histogram: ${options.empty || 'no scores yet'}.`);
    return null;
  }
  const domain = options.domain && options.domain[1] > options.domain[0] ? options.domain : extent(scores);
  const nBins = Math.min(60, Math.max(10, Math.round(Math.sqrt(scores.length))));
  const binWidth = (domain[1] - domain[0]) / nBins;
  const groups = labels ? [[], []] : [[]];
  groups.forEach((g) => g.push(...new Array(nBins).fill(0)));
  scores.forEach((s, i) => {
    const b = Math.min(nBins - 1, Math.max(0, Math.floor((s - domain[0]) / binWidth)));
    groups[labels && labels[i] === 1 ? 1 : 0][b] += 1;
  });
  // Square-root counts: the few anomalies stay visible next to thousands of normal rows.
  const maxCount = Math.max(1, ...groups.flat());
  const colors = [COLORS[0], COLORS[1]];
  const items = (labels
    ? [{ name: 'normal', color: colors[0], marker: 'square' }, { name: 'anomaly', color: colors[1], marker: 'square' }]
    : [{ name: 'rows', color: colors[0], marker: 'square' }]).concat([{ name: 'threshold (drag it)', color: TEXT, dash: [6, 4] }]);
  const { box, draw } = layout(ctx, width, height, items);
  const x = scale(domain[0], domain[1], box.left, box.right);
  const y = scale(0, Math.sqrt(maxCount), box.bottom, box.top);
  axes(ctx, height, box, x, y, domain, [0, Math.sqrt(maxCount)], {
    x: options.xLabel || 'score',
    y: 'rows (√ scale)',
    yFormat: (t) => formatNumber(Math.round(t * t)),
  });
  draw();
  groups.forEach((counts, gi) => {
    ctx.fillStyle = colors[gi];
    ctx.globalAlpha = gi === 0 ? 0.55 : 0.8;
    counts.forEach((c, b) => {
      if (!c) return;
      const x0 = x(domain[0] + b * binWidth);
      const x1 = x(domain[0] + (b + 1) * binWidth);
      const top = y(Math.sqrt(c));
      ctx.fillRect(x0 + 0.5, top, Math.max(1, x1 - x0 - 1), box.bottom - top);
    });
  });
  ctx.globalAlpha = 1;
  // The threshold: a dashed line with a handle at the top (drag it, or use the slider).
  const tx = Math.round(x(threshold)) + 0.5;
  ctx.strokeStyle = TEXT;
  ctx.lineWidth = 2;
  ctx.setLineDash([6, 4]);
  ctx.beginPath(); ctx.moveTo(tx, box.top); ctx.lineTo(tx, box.bottom); ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = TEXT;
  ctx.beginPath(); ctx.moveTo(tx - 7, box.top); ctx.lineTo(tx + 7, box.top); ctx.lineTo(tx, box.top + 10); ctx.closePath(); ctx.fill();
  const flagged = scores.filter((s) => s > threshold).length;
  canvas.setAttribute(
    'aria-label',
    `Histogram of ${scores.length} anomaly scores from ${formatNumber(domain[0])} to ${formatNumber(domain[1])}` +
      `${labels ? `, ${labels.filter((l) => l === 1).length} labelled anomalies` : ''}; ` +
      `threshold ${formatNumber(threshold)} flags ${flagged} rows.`,
  );
  return x;
}
