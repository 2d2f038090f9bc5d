// The score chart: one line per provider, drawn as inline SVG (no library).

import { h, PALETTE, providerName, replace, svg } from './dom.js';

const HEIGHT = 190;
const MARGIN = { top: 10, right: 14, bottom: 26, left: 34 };
const MIN_SPAN = 2;    // seconds: a history younger than five minutes fills the chart's width
const MAX_SPAN = 300;  // five minutes: a failed provider's full recovery

/** Draw ``history`` (GET /providers/history) into ``element``, its legend into ``legend``. */
export function drawScoreChart(element, legend, history) {
  const width = Math.max(240, Math.round(element.getBoundingClientRect().width) || 560);
  element.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
  element.setAttribute('height', String(HEIGHT));
  const names = history.providers;
  replace(legend, names.map((name, index) => h('span', { class: 'legend-item' },
    swatch(PALETTE[index % PALETTE.length]), providerName(name))));

  const samples = history.samples;
  if (samples.length === 0) {
    replace(element, svg('text', { x: width / 2, y: HEIGHT / 2, 'text-anchor': 'middle',
      class: 'chart-empty' }, 'Waiting for the first samples…'));
    return;
  }
  const now = samples[samples.length - 1].at;
  const span = Math.min(MAX_SPAN, Math.max(MIN_SPAN, now - samples[0].at));
  const start = now - span;
  const shown = samples.filter((sample) => sample.at >= start);
  const [low, high] = yDomain(shown, names);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (at) => MARGIN.left + ((at - start) / span) * plotWidth;
  const y = (score) => MARGIN.top + (1 - (score - low) / (high - low)) * plotHeight;

  const parts = [];
  for (const tick of yTicks(low, high)) {
    parts.push(svg('line', { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(tick), y2: y(tick),
      class: 'grid' }));
    parts.push(svg('text', { x: MARGIN.left - 6, y: y(tick) + 4, 'text-anchor': 'end',
      class: 'axis' }, String(tick)));
  }
  // Fewer time labels on a phone, so they never collide, and no two alike on a young history.
  const steps = Math.max(1, Math.min(width < 420 ? 2 : 4, Math.floor(span)));
  for (let index = 0; index <= steps; index += 1) {
    const ago = Math.round(span - (span * index) / steps);
    const anchor = index === 0 ? 'start' : index === steps ? 'end' : 'middle';
    parts.push(svg('text', { x: x(start + (span * index) / steps), y: HEIGHT - 8,
      'text-anchor': anchor, class: 'axis' }, agoLabel(ago)));
  }
  names.forEach((name, index) => {
    const colour = PALETTE[index % PALETTE.length];
    for (const run of runs(shown, name, history.intervalSeconds)) {
      const points = run.map((s) => `${x(s.at).toFixed(1)},${y(s.scores[name]).toFixed(1)}`);
      parts.push(svg('polyline', { points: points.join(' '), stroke: colour, class: 'line',
        'data-provider': name }));
    }
    const last = [...shown].reverse().find((sample) => name in sample.scores);
    if (last) {
      parts.push(svg('circle', { cx: x(last.at), cy: y(last.scores[name]), r: 3.5,
        fill: colour }));
    }
  });
  replace(element, parts);
  const latest = samples[samples.length - 1].scores;
  element.setAttribute('aria-label', 'Provider scores over the last '
    + `${agoLabel(Math.round(span)).replace(' ago', '')}; now `
    + names.map((name) => `${providerName(name)} ${format(latest[name])}`).join(', '));
}

function swatch(colour) {
  const element = h('span', { class: 'swatch', 'aria-hidden': 'true' });
  element.style.backgroundColor = colour;
  return element;
}

/** Stretches of consecutive samples; a gap (the scores could not be read) breaks a line. */
function runs(samples, name, interval) {
  const result = [];
  let current = [];
  let previous = null;
  for (const sample of samples) {
    const gap = previous !== null && sample.at - previous > interval * 3;
    if (!(name in sample.scores) || gap) {
      if (current.length) result.push(current);
      current = [];
    }
    if (name in sample.scores) current.push(sample);
    previous = sample.at;
  }
  if (current.length) result.push(current);
  return result;
}

function yDomain(samples, names) {
  const values = samples.flatMap((s) => names.filter((n) => n in s.scores).map((n) => s.scores[n]));
  const min = Math.min(...values);
  const max = Math.max(...values);
  let low = Math.max(0, Math.floor((min - 2) / 5) * 5);
  const high = Math.min(100, Math.ceil((max + 1) / 5) * 5);
  if (high - low < 10) low = Math.max(0, high - 10);
  return [low, high];
}

function yTicks(low, high) {
  const range = high - low;
  const step = range <= 20 ? 5 : range <= 50 ? 10 : 20;
  const ticks = [];
  for (let tick = Math.ceil(low / step) * step; tick <= high; tick += step) ticks.push(tick);
  return ticks;
}

function agoLabel(seconds) {
  if (seconds <= 0) return 'now';
  if (seconds < 120) return `${seconds} s ago`;
  return `${Math.round(seconds / 60)} min ago`;
}

function format(score) {
  return typeof score === 'number' ? score.toFixed(1) : '—';
}
