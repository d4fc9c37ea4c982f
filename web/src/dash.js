// The dashboards page: one merged request (/api/batch) loads the home
// screen (who am I, realtime, ranking, funnel, analysis); the realtime card
// refreshes every 30 s; the analysis form keeps its state in the URL.
import * as echarts from 'echarts/core';
import { BarChart, FunnelChart, LineChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import './dash.css';

echarts.use([LineChart, BarChart, FunnelChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, CanvasRenderer]);

const REFRESH_MS = 30000;
const MAX_DAYS = 92;
const METRIC_LABELS = { pv: 'PV', uv: 'UV', avg_value: 'Avg value' };
const COLORS = ['#1456b8', '#c2410c', '#15803d', '#7c3aed'];
const $ = (id) => document.getElementById(id);

// For tests and for people debugging: the chart instances and timings.
const charts = {};
window.wingsCharts = charts;
window.wingsTimings = { firstChart: 0 };

// ---- state in the URL ----------------------------------------------------

const FILTERS = ['from', 'to', 'granularity', 'platform', 'region', 'event', 'metrics'];

function readState() {
  const q = new URLSearchParams(location.search);
  const s = { biz: q.get('biz') || '' };
  for (const k of FILTERS) s[k] = q.get(k) || '';
  return s;
}

function writeState(s) {
  const q = new URLSearchParams();
  if (s.biz) q.set('biz', s.biz);
  for (const k of FILTERS) if (s[k]) q.set(k, s[k]);
  const url = location.pathname + (q.toString() ? '?' + q : '');
  if (url !== location.pathname + location.search) history.replaceState(null, '', url);
}

function analysisQuery(s) {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (s[k]) q.set(k, s[k]);
  return q.toString();
}

// ---- requests --------------------------------------------------------------

// api fetches a JSON envelope; a 401 sends the browser to sign in.
async function api(path) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (res.status === 401) {
    location.assign('/auth/login?next=' + encodeURIComponent(location.pathname + location.search));
    throw new Error('signing in');
  }
  let body;
  try {
    body = await res.json();
  } catch {
    body = { code: res.status, msg: `unexpected answer (HTTP ${res.status})` };
  }
  return { status: res.status, body };
}

function batch(parts) {
  const q = new URLSearchParams();
  for (const p of parts) q.append('part', p);
  return api('/api/batch?' + q);
}

// ---- rendering helpers -------------------------------------------------------

function setState(id, text, isError) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', !!isError);
  el.setAttribute('role', isError ? 'alert' : 'status');
}

function badge(id, env, data) {
  const el = $(id);
  const stale = (data && data.stale) || (env.stale && env.stale.length);
  const degraded = env.degraded && env.degraded.length;
  if (stale) {
    el.textContent = data && data.stale ? `stale: ClickHouse unavailable, data from ${ago(data.age_seconds)}` : 'stale';
  } else if (degraded) {
    el.textContent = 'degraded: ' + env.degraded.join(', ');
  }
  el.hidden = !(stale || degraded);
}

function ago(s) {
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

const fmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

function table(id, caption, head, rows) {
  const t = document.createElement('table');
  const cap = t.createCaption();
  cap.textContent = caption;
  const tr = t.createTHead().insertRow();
  for (const h of head) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    tr.appendChild(th);
  }
  const body = t.createTBody();
  for (const r of rows) {
    const row = body.insertRow();
    r.forEach((v, i) => {
      const cell = i === 0 ? document.createElement('th') : document.createElement('td');
      if (i === 0) cell.scope = 'row';
      cell.textContent = typeof v === 'number' ? fmt.format(v) : v ?? '–';
      row.appendChild(cell);
    });
  }
  $(id).replaceChildren(t);
}

function totals(id, tot, metrics) {
  const dl = $(id);
  dl.replaceChildren();
  for (const m of metrics) {
    if (tot[m] === undefined) continue;
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = METRIC_LABELS[m];
    const dd = document.createElement('dd');
    dd.textContent = fmt.format(tot[m]);
    dd.dataset.metric = m;
    div.append(dt, dd);
    dl.appendChild(div);
  }
}

function chart(name, el, option) {
  let c = charts[name];
  if (!c) {
    c = echarts.init($(el), null, { renderer: 'canvas' });
    charts[name] = c;
    c.on('finished', () => {
      if (!window.wingsTimings.firstChart) window.wingsTimings.firstChart = performance.now();
    });
  }
  c.setOption({ aria: { enabled: true }, color: COLORS, animation: false, ...option }, true);
  return c;
}

// failed renders a part's error in its card; a 403 names the line.
function failed(stateId, env, biz) {
  const msg = env.code === 403 ? `No permission for ${biz}: ${env.msg}` : `Could not load (${env.code}): ${env.msg || 'unknown error'}`;
  setState(stateId, msg, true);
}

// ---- cards -----------------------------------------------------------------

let realtimeAt = 0;
let realtimeAge = 0;

function renderRealtime(env, biz) {
  if (env.code !== 0) {
    failed('rt-state', env, biz);
    return;
  }
  const d = env.data;
  realtimeAt = Date.now();
  realtimeAge = d.age_seconds || 0;
  tick();
  setState('rt-state', `${d.date} (${d.timezone}), event ${d.event}`);
  badge('rt-badge', env, d);
  totals('rt-totals', d.totals, ['pv', 'uv']);
  const hours = d.hours.map((p) => p.time.slice(11, 16));
  chart('realtime', 'rt-chart', {
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: ['PV', 'UV'] },
    grid: { left: 56, right: 56, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: hours },
    yAxis: [{ type: 'value', name: 'PV' }, { type: 'value', name: 'UV' }],
    series: [
      { name: 'PV', type: 'line', data: d.hours.map((p) => p.pv ?? 0) },
      { name: 'UV', type: 'line', yAxisIndex: 1, data: d.hours.map((p) => p.uv ?? 0) },
    ],
  });
  table('rt-table', 'Today by hour', ['Hour', 'PV', 'UV'], d.hours.map((p) => [p.time.slice(11, 16), p.pv, p.uv]));
}

// tick updates "updated N s ago" once a second.
function tick() {
  if (!realtimeAt) return;
  const s = realtimeAge + Math.floor((Date.now() - realtimeAt) / 1000);
  $('rt-updated').textContent = `updated ${s} s ago`;
}

function renderRanking(env, biz) {
  if (env.code !== 0) {
    failed('rk-state', env, biz);
    return;
  }
  const d = env.data;
  setState('rk-state', `${d.date}, event ${d.event}, top ${d.items.length}`);
  badge('rk-badge', env, d);
  const items = [...d.items].reverse(); // the first at the top of the bars
  chart('ranking', 'rk-chart', {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 110, right: 24, top: 8, bottom: 24 },
    xAxis: { type: 'value' },
    yAxis: { type: 'category', data: items.map((i) => i.item) },
    series: [{ name: 'PV', type: 'bar', data: items.map((i) => i.pv) }],
  });
  table('rk-table', 'Top items', ['#', 'Item', 'PV'], d.items.map((i) => [String(i.rank), i.item, i.pv]));
}

function renderFunnel(env, biz) {
  if (env.code !== 0) {
    failed('fn-state', env, biz);
    return;
  }
  const d = env.data;
  setState('fn-state', `${d.date}, window ${d.window} s, overall ${(d.overall * 100).toFixed(2)} %`);
  badge('fn-badge', env, d);
  chart('funnel', 'fn-chart', {
    tooltip: { trigger: 'item', formatter: (p) => `${p.name}: ${fmt.format(p.value)} users` },
    series: [{
      name: 'Users', type: 'funnel', sort: 'none', left: 10, right: 10, top: 10, bottom: 10, minSize: '28%',
      label: { show: true, position: 'inside', color: '#fff', formatter: (p) => `${p.name} ${fmt.format(p.value)}` },
      data: d.steps.map((s) => ({ name: s.step, value: s.users })),
    }],
  });
  table('fn-table', 'Steps', ['Step', 'Users', 'Rate'], d.steps.map((s) => [s.step, s.users, `${(s.rate * 100).toFixed(2)} %`]));
}

function renderAnalysis(env, biz) {
  if (env.code !== 0) {
    failed('an-state', env, biz);
    if (charts.analysis) charts.analysis.clear();
    $('an-totals').replaceChildren();
    return;
  }
  const d = env.data;
  fillForm(d);
  const filters = Object.entries(d.filters || {}).map(([k, v]) => `${k}=${v}`).join(', ');
  setState('an-state', `${d.from} to ${d.to} by ${d.granularity}${filters ? ', ' + filters : ''} · ${d.series.length} points`);
  totals('an-totals', d.totals, d.metrics);
  const x = d.series.map((p) => (d.granularity === 'hour' ? p.time.slice(5, 16) : p.time));
  chart('analysis', 'an-chart', {
    tooltip: { trigger: 'axis' },
    legend: { top: 0, data: d.metrics.map((m) => METRIC_LABELS[m]) },
    grid: { left: 64, right: 64, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: x },
    yAxis: [{ type: 'value' }, { type: 'value', show: d.metrics.includes('avg_value') }],
    series: d.metrics.map((m) => ({
      name: METRIC_LABELS[m], type: 'line', yAxisIndex: m === 'avg_value' ? 1 : 0, showSymbol: d.series.length < 60,
      data: d.series.map((p) => p[m] ?? 0),
    })),
  });
  table('an-table', 'Series', ['Time', ...d.metrics.map((m) => METRIC_LABELS[m])], d.series.map((p) => [p.time, ...d.metrics.map((m) => p[m])]));
}

// ---- the analysis form -----------------------------------------------------

function fillForm(d) {
  $('an-from').value = d.from;
  $('an-to').value = d.to;
  $('an-granularity').value = d.granularity;
  $('an-platform').value = (d.filters && d.filters.platform) || '';
  $('an-region').value = (d.filters && d.filters.region) || '';
  $('an-event').value = (d.filters && d.filters.event) || '';
  for (const cb of document.querySelectorAll('input[name=metrics]')) cb.checked = d.metrics.includes(cb.value);
}

function formState() {
  const metrics = [...document.querySelectorAll('input[name=metrics]:checked')].map((c) => c.value);
  return {
    from: $('an-from').value, to: $('an-to').value, granularity: $('an-granularity').value,
    platform: $('an-platform').value, region: $('an-region').value, event: $('an-event').value,
    metrics: metrics.join(','),
  };
}

function checkForm(f) {
  if (!f.metrics) return 'Pick at least one metric.';
  if (f.from && f.to) {
    const days = Math.round((Date.parse(f.to) - Date.parse(f.from)) / 86400000) + 1;
    if (days < 1) return 'From must not be after To.';
    if (days > MAX_DAYS) return `The range is ${days} days; at most ${MAX_DAYS}.`;
  }
  return '';
}

// ---- page ------------------------------------------------------------------

let state = readState();
let timer = 0;

async function loadHome(lines) {
  const biz = state.biz;
  const base = `/api/dash/${encodeURIComponent(biz)}`;
  const parts = [`${base}/realtime`, `${base}/ranking?limit=10`, `${base}/funnel`, `${base}/analysis?${analysisQuery(state)}`];
  if (!lines) parts.unshift('/api/me');
  for (const id of ['rt-state', 'rk-state', 'fn-state', 'an-state']) setState(id, 'Loading…');
  const { body } = await batch(parts);
  if (body.code !== 0) throw new Error(body.msg || `merged request failed (${body.code})`);
  const envs = body.data.parts.map((p) => p.body);
  if (!lines) {
    const me = envs.shift();
    if (me.code !== 0) throw new Error(me.msg);
    return { me: me.data, envs };
  }
  return { envs };
}

function showHome(envs) {
  const biz = state.biz;
  const forbidden = envs.every((e) => e.code === 403);
  const alert = $('page-error');
  alert.hidden = !forbidden;
  alert.textContent = forbidden ? `No permission for ${biz}: your account may not see the ${biz} dashboards. Pick a line you may see.` : '';
  const [rt, rk, fn, an] = envs;
  renderRealtime(rt, biz);
  renderRanking(rk, biz);
  renderFunnel(fn, biz);
  renderAnalysis(an, biz);
}

function fillPicker(me) {
  $('user').textContent = `${me.name || me.id}`;
  const sel = $('biz');
  sel.replaceChildren(...me.lines.map((l) => new Option(l, l)));
  sel.value = state.biz; // a line not offered (a shared link to a forbidden one) selects nothing
  sel.disabled = false;
}

async function refreshRealtime() {
  try {
    const { body } = await api(`/api/dash/${encodeURIComponent(state.biz)}/realtime`);
    renderRealtime(body, state.biz);
  } catch (e) {
    setState('rt-state', `Could not refresh: ${e.message}`, true);
  }
}

async function start() {
  const asked = state.biz;
  if (!state.biz) state.biz = localStorage.getItem('wings.biz') || 'video';
  let me;
  let envs;
  try {
    ({ me, envs } = await loadHome(null));
  } catch (e) {
    const alert = $('page-error');
    alert.hidden = false;
    alert.textContent = `The dashboards could not load: ${e.message}`;
    return;
  }
  if (!asked && !me.lines.includes(state.biz) && me.lines.length) {
    // The remembered line is no longer permitted: open the first one.
    state.biz = me.lines[0];
    ({ envs } = await loadHome(me.lines));
  }
  if (!me.lines.length) {
    $('page-error').hidden = false;
    $('page-error').textContent = 'Your account may not see any business line.';
  }
  fillPicker(me);
  writeState(state);
  showHome(envs);
  localStorage.setItem('wings.biz', state.biz);
  timer = setInterval(refreshRealtime, REFRESH_MS);
  setInterval(tick, 1000);

  $('biz').addEventListener('change', async (ev) => {
    state = { ...state, biz: ev.target.value };
    writeState(state);
    localStorage.setItem('wings.biz', state.biz);
    const { envs } = await loadHome(me.lines);
    showHome(envs);
  });
  $('rt-refresh').addEventListener('click', () => {
    clearInterval(timer);
    timer = setInterval(refreshRealtime, REFRESH_MS);
    refreshRealtime();
  });
  $('an-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = formState();
    const problem = checkForm(f);
    if (problem) {
      setState('an-state', problem, true);
      return;
    }
    state = { ...state, ...f };
    writeState(state);
    setState('an-state', 'Loading…');
    try {
      const { body } = await api(`/api/dash/${encodeURIComponent(state.biz)}/analysis?${analysisQuery(state)}`);
      renderAnalysis(body, state.biz);
    } catch (e) {
      setState('an-state', `Could not load: ${e.message}`, true);
    }
  });
  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
}

start();
