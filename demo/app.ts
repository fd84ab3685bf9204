/**
 * The demo page: sliders and canvases on the main thread, all computation in a module worker
 * (worker.ts). Renders are coalesced: while one is in flight, only the latest request waits.
 * `document.body.dataset` carries counters (renders, steps) for the page's browser test.
 */
import type { FromWorker, ParamInfo, ToWorker } from './protocol.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []): void => worker.postMessage(m, transfer);

const presetSel = $<HTMLSelectElement>('preset');
const seedIn = $<HTMLInputElement>('seed');
const sizeSel = $<HTMLSelectElement>('size');
const status = $('status');
const errorBox = $('error');

let params: ParamInfo[] = [];
let defaults: Record<string, number[]> = {};
let learnedByPreset: Record<string, string[]> = {};
let values: number[] = [];
let backend = '';

// ---- drawing --------------------------------------------------------------------------------
function drawGrey(canvas: HTMLCanvasElement, data: Float32Array, w: number, h: number): void {
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext('2d')!;
  const img = g.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, data[i])));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
}

const CLASS_COLOURS = [[20, 20, 28], [70, 140, 220], [250, 170, 40]];
function drawClasses(canvas: HTMLCanvasElement, classes: Uint8Array, w: number, h: number): void {
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext('2d')!;
  const img = g.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const c = CLASS_COLOURS[classes[i]] ?? [255, 0, 255];
    img.data.set([c[0], c[1], c[2], 255], 4 * i);
  }
  g.putImageData(img, 0, 0);
}

// ---- live rendering -------------------------------------------------------------------------
let renderId = 0;
let inFlight = false;
let pending = false;
let renders = 0;

function requestRender(): void {
  if (inFlight) {
    pending = true;
    return;
  }
  inFlight = true;
  pending = false;
  send({ type: 'render', id: ++renderId, preset: presetSel.value, seed: Number(seedIn.value) | 0, size: Number(sizeSel.value), params: values.slice() });
}

const fmt = (v: number): string => (Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));

function buildSliders(): void {
  const box = $('sliders');
  box.textContent = '';
  params.forEach((p, i) => {
    const label = document.createElement('label');
    label.textContent = p.name;
    label.title = p.meaning;
    label.htmlFor = `p-${p.name}`;
    const input = document.createElement('input');
    input.type = 'range';
    input.id = `p-${p.name}`;
    input.dataset.param = p.name;
    input.min = String(p.min);
    input.max = String(p.max);
    input.step = String((p.max - p.min) / 200);
    input.title = p.meaning;
    const out = document.createElement('output');
    out.id = `v-${p.name}`;
    input.addEventListener('input', () => {
      values[i] = Number(input.value);
      out.textContent = fmt(values[i]);
      requestRender();
    });
    box.append(label, input, out);
  });
}

function applyPresetDefaults(): void {
  values = (defaults[presetSel.value] ?? []).slice();
  params.forEach((p, i) => {
    const input = document.getElementById(`p-${p.name}`) as HTMLInputElement;
    input.value = String(values[i]);
    $(`v-${p.name}`).textContent = fmt(values[i]);
  });
}

presetSel.addEventListener('change', () => {
  applyPresetDefaults();
  requestRender();
});
seedIn.addEventListener('input', requestRender);
sizeSel.addEventListener('change', requestRender);
$('reset').addEventListener('click', () => {
  applyPresetDefaults();
  requestRender();
});

// ---- training panel -------------------------------------------------------------------------
const trainBtn = $<HTMLButtonElement>('train');
const stopBtn = $<HTMLButtonElement>('stop');
let steps = 0;
let lossHistory: { g: number; d: number }[] = [];

async function loadFile(file: File): Promise<void> {
  status.textContent = `decoding ${file.name}...`;
  const bytes = await file.arrayBuffer();
  send({ type: 'load-image', name: file.name, bytes }, [bytes]);
}

const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) void loadFile(f);
});
// Dropping a file anywhere else must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());
$<HTMLInputElement>('file').addEventListener('change', (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) void loadFile(f);
});
$('generate').addEventListener('click', () => send({ type: 'generate-image', preset: presetSel.value, seed: Number(seedIn.value) | 0 }));
trainBtn.addEventListener('click', () => {
  trainBtn.disabled = true;
  stopBtn.disabled = false;
  send({ type: 'train', preset: presetSel.value, seed: Number(seedIn.value) | 0, steps: Math.max(1, Number($<HTMLInputElement>('steps').value) | 0) });
});
stopBtn.addEventListener('click', () => send({ type: 'stop' }));

function drawLosses(): void {
  const c = $<HTMLCanvasElement>('loss-chart');
  const g = c.getContext('2d')!;
  g.clearRect(0, 0, c.width, c.height);
  if (lossHistory.length < 1) return;
  const max = Math.max(1e-6, ...lossHistory.flatMap((l) => [l.g, l.d]));
  const x = (i: number): number => 4 + (i / Math.max(1, lossHistory.length - 1)) * (c.width - 8);
  const y = (v: number): number => c.height - 4 - (v / max) * (c.height - 18);
  for (const [key, colour] of [['g', '#d33'], ['d', '#36c']] as const) {
    g.strokeStyle = colour;
    g.beginPath();
    lossHistory.forEach((l, i) => (i ? g.lineTo(x(i), y(l[key])) : g.moveTo(x(i), y(l[key]))));
    g.stroke();
  }
  g.fillStyle = '#555';
  g.font = '11px sans-serif';
  g.fillText(`loss G (red), loss D (blue); max ${max.toFixed(3)}`, 6, 12);
}

function showLearned(p: Record<string, number>): void {
  const body = $('learned').querySelector('tbody')!;
  body.textContent = '';
  for (const [name, v] of Object.entries(p)) {
    const tr = document.createElement('tr');
    tr.dataset.param = name;
    const th = document.createElement('th');
    th.textContent = name;
    const td = document.createElement('td');
    td.textContent = fmt(v);
    tr.append(th, td);
    body.append(tr);
  }
}

// ---- messages from the worker ---------------------------------------------------------------
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'ready': {
      ({ params, defaults, backend } = m);
      learnedByPreset = m.learned;
      for (const p of m.presets) presetSel.add(new Option(p, p));
      buildSliders();
      applyPresetDefaults();
      document.body.dataset.ready = '1';
      status.textContent = `worker ready (backend ${backend})`;
      requestRender();
      break;
    }
    case 'rendered': {
      inFlight = false;
      if (m.id === renderId) {
        drawGrey($('image'), m.image, m.width, m.height);
        drawClasses($('mask'), m.classes, m.width, m.height);
        document.body.dataset.renders = String(++renders);
        status.textContent = `${presetSel.value}, seed ${seedIn.value}: ${m.particles} particles, ${m.width} px, rendered in ${m.ms.toFixed(0)} ms (${backend})`;
      }
      if (pending) requestRender();
      break;
    }
    case 'image': {
      drawGrey($<HTMLCanvasElement>('real'), m.image, m.width, m.height);
      $('image-info').textContent = `${m.name}: ${m.width} x ${m.height} px, ${m.patches} patches of ${m.patch} px kept (${m.skipped} empty ones skipped); learning ${(learnedByPreset[presetSel.value] ?? []).length} parameters`;
      trainBtn.disabled = m.patches === 0;
      lossHistory = [];
      drawLosses();
      document.body.dataset.patches = String(m.patches);
      status.textContent = 'image loaded';
      break;
    }
    case 'step': {
      drawGrey($<HTMLCanvasElement>('fake'), m.sample, m.patch, m.patch);
      showLearned(m.params);
      $('r-step').textContent = `${m.step} / ${m.total}`;
      if (m.lossG !== null && m.lossD !== null) {
        $('r-lossG').textContent = m.lossG.toFixed(4);
        $('r-lossD').textContent = m.lossD.toFixed(4);
        $('r-dReal').textContent = (m.dReal ?? 0).toFixed(3);
        $('r-dFake').textContent = (m.dFake ?? 0).toFixed(3);
        $('r-ms').textContent = m.ms.toFixed(0);
        lossHistory.push({ g: m.lossG, d: m.lossD });
        drawLosses();
        document.body.dataset.steps = String(++steps);
      }
      break;
    }
    case 'train-done':
      trainBtn.disabled = false;
      stopBtn.disabled = true;
      status.textContent = `training ${m.stopped ? 'stopped' : 'done'} after ${m.steps} steps`;
      break;
    case 'error':
      inFlight = false;
      trainBtn.disabled = false;
      stopBtn.disabled = true;
      errorBox.textContent = m.message;
      console.warn(`worker: ${m.message}`);
      break;
  }
};
worker.onerror = (e) => {
  errorBox.textContent = `worker failed: ${e.message}`;
};
