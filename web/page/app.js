// eccweb's page: eccd's live watch lines (Server-Sent Events from /events) drawn for a
// patient two metres away, with sound for when they cannot look. No library, nothing
// fetched from anywhere but this rig. docs/web.md describes what it shows and why.
'use strict';

const $ = (id) => document.getElementById(id);
const WINDOW_S = 10;                 // seconds of force on the plot
const HOLD_MS = 1000;                // hold-to-confirm

// Plain words for what eccd reports (docs/replog.md, docs/safety.md).
const REJECT_WORDS = {
  too_short: 'too quick: let the stroke last longer',
  too_little_travel: 'too short a stroke: let the belt carry the foot further',
  out_of_band: 'the force was outside the band too long',
  above_band_at_min_speed: 'pushing harder than the slowest belt allows: ease off',
  below_band_at_max_speed: 'too little resistance even at top speed: push harder',
  aborted: 'cut off by a stop',
};
const RESET_HOW = 'The clinician clears it with the reset button on the rig or eccctl reset-fault; then start again.';
const FAULT_WORDS = {
  estop: ['Emergency stop: the e-stop or the safety key', 'Stand safely. Release the e-stop or clip the key back on. ' + RESET_HOW],
  overforce: ['Too much force: {v} N over the {l} N limit', 'Take the foot off the belt and rest. ' + RESET_HOW],
  overspeed: ['The belt ran too fast: {v} m/s over {l} m/s', 'Step off the belt. ' + RESET_HOW],
  drive_trip: ['The treadmill drive tripped (its code {v})', 'Read the code on the drive\'s display. ' + RESET_HOW],
  drive_comm: ['Lost contact with the treadmill drive', 'Check the drive\'s power and cable. ' + RESET_HOW],
  loop_late: ['The controller fell behind', RESET_HOW + ' If it happens again, tell the clinic.'],
  force_saturated: ['The foot sensor reads its full scale', 'Check the load cell and its cable. ' + RESET_HOW],
  force_implausible: ['The foot sensor reads nonsense', 'Check the load cell and its cable. ' + RESET_HOW],
  force_stale: ['The foot sensor stopped answering', 'Check the load cell\'s power and cable. ' + RESET_HOW],
  force_drift: ['The foot sensor drifted off zero', 'Take the foot off; tare the load cell. ' + RESET_HOW],
  force_stuck: ['The foot sensor is stuck on one value', 'Check the load cell and its cable. ' + RESET_HOW],
  speed_silent: ['The belt speed sensor gives no pulses', 'Check the belt sensor. ' + RESET_HOW],
  speed_disagree: ['The belt speed sensor and the drive disagree', 'Check the belt sensor and the belt. ' + RESET_HOW],
};
const STATE_WORDS = {
  idle: 'ready', set_running: 'set running', rest: 'rest', ready: 'ready',
  paused: 'paused', session_done: 'session done', fault: 'STOPPED',
};

// What the page knows. window.eccweb is read by the browser test (tests/t_web.sh) and
// the latency benchmark: what was shown, and when.
const ui = {
  session: null,            // /api/session: may this device control, the protocol
  st: null,                 // the newest watch line
  samples: [],              // [t, force, speed, cmd] of the last WINDOW_S
  lastLine: 0,              // Date.now() of the newest event from eccweb
  pendingTick: null,        // tick_ms of the newest line not yet drawn
  painFor: null,            // {set} awaiting a pain score
  morningSkipped: false,    // "not now" on the morning score, until the page is reloaded
  lastPainSet: null,
  beat: null,               // last session's time in band, to beat
  muted: localStorage.getItem('eccweb.mute') !== '0',
};
window.eccweb = { latency: [], shown: [], banner: null, verdicts: [], lines: 0 };

// ---- sound ------------------------------------------------------------------------------
let audio = null, tone = null, toneGain = null;

function soundInit() {
  if (audio) return;
  audio = new (window.AudioContext || window.webkitAudioContext)();
  tone = audio.createOscillator();
  toneGain = audio.createGain();
  toneGain.gain.value = 0;
  tone.type = 'sine';
  tone.connect(toneGain).connect(audio.destination);
  tone.start();
}

function beep(freq, ms, type = 'sine', when = 0, vol = 0.25) {
  if (ui.muted || !audio) return;
  const t0 = audio.currentTime + when, o = audio.createOscillator(), g = audio.createGain();
  o.type = type;
  o.frequency.value = freq;
  g.gain.setValueAtTime(0, t0);
  g.gain.linearRampToValueAtTime(vol, t0 + 0.01);
  g.gain.linearRampToValueAtTime(0, t0 + ms / 1000);
  o.connect(g).connect(audio.destination);
  o.start(t0);
  o.stop(t0 + ms / 1000 + 0.05);
}

function say(text) {
  if (ui.muted || !('speechSynthesis' in window)) return;
  const u = new SpeechSynthesisUtterance(text);
  u.rate = 1.1;
  speechSynthesis.cancel();
  speechSynthesis.speak(u);
}

// The out-of-band tone: high above the band, low below it, silent in it or off the belt.
function toneFor(zone) {
  if (!audio || !toneGain) return;
  const on = !ui.muted && (zone === 'above' || zone === 'below');
  if (on) tone.frequency.setTargetAtTime(zone === 'above' ? 880 : 330, audio.currentTime, 0.02);
  toneGain.gain.setTargetAtTime(on ? 0.06 : 0, audio.currentTime, 0.03);
}

function soundButton() {
  const b = $('sound');
  b.textContent = ui.muted ? 'Sound: off' : 'Sound: on';
  b.setAttribute('aria-pressed', String(!ui.muted));
}

$('sound').addEventListener('click', () => {
  soundInit();
  if (audio.state === 'suspended') audio.resume();
  ui.muted = !ui.muted;
  localStorage.setItem('eccweb.mute', ui.muted ? '1' : '0');
  soundButton();
  if (!ui.muted) beep(660, 120);
  toneFor(zoneOf(ui.st));
});

// ---- the live data ----------------------------------------------------------------------
function zoneOf(st) {
  if (!st || !st.loaded || st.state !== 'set_running') return 'off';
  if (st.force < st.band[0]) return 'below';
  if (st.force > st.band[1]) return 'above';
  return 'in';
}

function fmtTime(s) {
  s = Math.max(0, Math.ceil(s));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

function fill(text, ev) {
  return text.replace('{v}', ev.value !== undefined ? Math.round(ev.value * 100) / 100 : '?')
             .replace('{l}', ev.limit !== undefined ? Math.round(ev.limit * 100) / 100 : '?');
}

function showBanner(kind, what, todo) {
  const b = $('banner');
  if (!kind) {
    b.hidden = true;
    window.eccweb.banner = null;
    return;
  }
  if (b.hidden || b.dataset.kind !== kind || $('banner-what').textContent !== what) {
    window.eccweb.banner = { kind, what, at: Date.now(), tick_ms: ui.st ? ui.st.tick_ms : null };
    window.scrollTo(0, 0);          // a new banner is seen, wherever the page was scrolled
  }
  b.dataset.kind = kind;
  $('banner-what').textContent = what;
  $('banner-todo').textContent = todo;
  b.hidden = false;
}

function onEvent(ev) {
  if (ev.event === 'rep') {
    $('verdict').dataset.kind = 'counted';
    const share = Math.round((ev.in_band_share || 0) * 100);
    $('verdict').textContent = `Rep ${ev.rep} counted · ${share}% in band`;
    window.eccweb.verdicts.push({ kind: 'counted', rep: ev.rep, set: ev.set, at: Date.now() });
    beep(660, 110); beep(990, 160, 'sine', 0.12);
    setTimeout(() => say(String(ev.rep)), 300);
  } else if (ev.event === 'reject') {
    const words = REJECT_WORDS[ev.verdict] || ev.verdict;
    $('verdict').dataset.kind = 'rejected';
    $('verdict').textContent = 'Not counted: ' + words;
    window.eccweb.verdicts.push({ kind: 'rejected', verdict: ev.verdict, text: words, at: Date.now() });
    beep(220, 140, 'square', 0, 0.15); beep(180, 220, 'square', 0.18, 0.15);
  } else if (ev.event === 'set') {
    ui.painFor = { set: ev.set, session: ev.session };
    $('pain-q').textContent = `Set ${ev.set} done: ${ev.counted} reps. How much pain during it?`;
    say(`Set ${ev.set} done`);
  } else if (ev.event === 'set_start') {
    ui.painFor = null;
  } else if (ev.event === 'fault') {
    beep(440, 600, 'sawtooth', 0, 0.2);
  }
}

function onLine(st) {
  const prev = ui.st;
  ui.st = st;
  ui.lastLine = Date.now();
  window.eccweb.lines++;
  for (const s of st.samples || []) ui.samples.push(s);
  const cut = st.t - WINDOW_S;
  while (ui.samples.length && ui.samples[0][0] < cut) ui.samples.shift();
  if (prev && prev.t > st.t) ui.samples = (st.samples || []).slice();   // eccd restarted
  for (const ev of st.events || []) onEvent(ev);
  if (prev && prev.state === 'rest' && st.state !== 'rest') beep(880, 500);
  if (st.state === 'rest' && prev && prev.state === 'rest') {
    const a = Math.ceil(prev.rest_left_s), b = Math.ceil(st.rest_left_s);
    if (b < a && b >= 1 && b <= 3) beep(660, 150);
  }
  if (st.tick_ms) ui.pendingTick = st.tick_ms;
  render();
}

function render() {
  const st = ui.st;
  if (!st || st.state === null || st.state === undefined) return;
  const zone = zoneOf(st);
  $('state').textContent = STATE_WORDS[st.state] || st.state;
  $('state').dataset.state = st.state;
  $('force-n').textContent = Math.round(st.force);
  $('force').dataset.zone = zone;
  $('cue').dataset.zone = zone;
  $('cue').textContent = { off: st.state === 'set_running' ? 'foot off' : '', below: 'push a little harder',
                           in: 'hold it', above: 'ease off' }[zone];
  toneFor(zone);
  setText('rep', st.rep);
  setText('set', st.set);
  setText('session', st.sessions_today);
  setText('reps-per-set', st.reps_per_set);
  setText('sets-per-session', st.sets_per_session);
  $('band').textContent = `${Math.round(st.band[0])}–${Math.round(st.band[1])}`;
  $('speed').textContent = st.speed.toFixed(2);
  const shownRep = window.eccweb.shown[window.eccweb.shown.length - 1];
  if (!shownRep || shownRep.rep !== st.rep || shownRep.set !== st.set)
    window.eccweb.shown.push({ rep: st.rep, set: st.set, session: st.session, at: Date.now() });
  const resting = st.state === 'rest';
  $('rest').hidden = !resting && st.state !== 'ready';
  $('rest-label').textContent = resting ? `rest: set ${st.set + 1} of ${st.sets_per_session} next`
                                        : 'rest over: start the next set';
  $('rest-left').textContent = fmtTime(resting ? st.rest_left_s : 0);
  if (st.fault) {
    const w = FAULT_WORDS[st.fault] || [st.fault, RESET_HOW];
    showBanner('fault', 'Stopped. ' + fill(w[0], { value: st.fault_value, limit: st.fault_limit }), w[1]);
  } else {
    showBanner(null);
  }
  renderPain();
  renderMorning();
  renderControls();
}

function setText(id, v) {
  const e = $(id);
  if (e.textContent !== String(v)) e.textContent = v;
}

// ---- the plot: force against the shaded band, the last WINDOW_S seconds ----------------
function drawPlot() {
  const c = $('plot'), g = c.getContext('2d'), st = ui.st;
  const w = c.width = c.clientWidth * devicePixelRatio, h = c.height = c.clientHeight * devicePixelRatio;
  g.clearRect(0, 0, w, h);
  if (!st || !st.band) return;
  let top = st.band[1] * 1.5;
  for (const s of ui.samples) top = Math.max(top, s[1] * 1.1);
  const pad = 8 * devicePixelRatio, y = (f) => h - pad - (Math.max(0, f) / top) * (h - 2 * pad);
  const x = (t) => ((t - (st.t - WINDOW_S)) / WINDOW_S) * w;
  g.fillStyle = 'rgba(63,185,80,0.20)';
  g.fillRect(0, y(st.band[1]), w, y(st.band[0]) - y(st.band[1]));
  g.strokeStyle = 'rgba(63,185,80,0.7)';
  g.lineWidth = devicePixelRatio;
  for (const b of st.band) { g.beginPath(); g.moveTo(0, y(b)); g.lineTo(w, y(b)); g.stroke(); }
  g.lineWidth = 4 * devicePixelRatio;
  g.lineJoin = 'round';
  let prev = null;
  for (const s of ui.samples) {
    if (prev) {
      const f = s[1];
      g.strokeStyle = f > st.band[1] ? '#ff8c42' : f < st.band[0] ? '#4da3ff' : '#3fb950';
      g.beginPath(); g.moveTo(x(prev[0]), y(prev[1])); g.lineTo(x(s[0]), y(f)); g.stroke();
    }
    prev = s;
  }
  g.fillStyle = '#8b949e';
  g.font = `${14 * devicePixelRatio}px system-ui, sans-serif`;
  g.fillText(`${Math.round(st.band[1])} N`, pad, y(st.band[1]) - pad / 2);
  g.fillText(`${Math.round(st.band[0])} N`, pad, y(st.band[0]) + 16 * devicePixelRatio);
}

function frame() {
  drawPlot();
  if (ui.pendingTick) {       // drawn now: how long since the loop's tick made it
    const l = window.eccweb.latency;
    l.push(Date.now() - ui.pendingTick);
    if (l.length > 20000) l.splice(0, 10000);
    ui.pendingTick = null;
  }
  if (ui.lastLine && Date.now() - ui.lastLine > 2500 && (!ui.st || !ui.st.fault))
    showBanner('link', 'No news from the rig', 'eccweb or eccd is not answering; this page keeps trying.');
  requestAnimationFrame(frame);
}

// ---- pain, controls, pairing ------------------------------------------------------------
function canControl() { return ui.session && ui.session.control; }

function renderPain() {
  const ask = canControl() && ui.painFor && ui.lastPainSet !== `${ui.painFor.session}/${ui.painFor.set}`;
  $('pain').hidden = !ask;
}

function buildScores(boxId, send) {
  const box = $(boxId);
  for (let i = 0; i <= 10; i++) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = i;
    b.dataset.score = i;
    b.dataset.band = i <= 3 ? 'ok' : i <= 5 ? 'acceptable' : 'high';
    b.addEventListener('click', () => send(i));
    box.appendChild(b);
  }
}

function buildPainButtons() {
  buildScores('pain-scores', sendPain);
  $('pain-skip').addEventListener('click', () => { ui.lastPainSet = `${ui.painFor.session}/${ui.painFor.set}`; renderPain(); });
  buildScores('morning-scores', sendMorning);
  $('morning-skip').addEventListener('click', () => { ui.morningSkipped = true; renderMorning(); });
}

// The next-morning score (docs/programme.md): asked between sessions, once a day on this
// device (the day as the device's calendar has it).
function today() { return new Date().toDateString(); }
function renderMorning() {
  const st = ui.st, between = st && (st.state === 'idle' || st.state === 'session_done');
  let given = null;
  try { given = localStorage.getItem('eccweb-morning'); } catch (e) { /* private mode */ }
  $('morning').hidden = !(canControl() && between && !ui.morningSkipped && given !== today());
}

async function sendMorning(score) {
  const j = await post('/api/morning', { score });
  if (j.ok) {
    try { localStorage.setItem('eccweb-morning', today()); } catch (e) { /* private mode */ }
    const last = (j.progression || []).slice(-1)[0];
    const down = last && last.kind === 'down' && last.reason.startsWith(`morning score ${score}/10`);
    $('morning-done').textContent = `Morning score ${score}/10 saved.` +
      (down ? ' The load steps down a little from today.' : '');
  } else {
    $('morning-done').textContent = 'Not saved: ' + (j.message || j.error);
  }
  $('morning-done').hidden = false;
  renderMorning();
}

async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Eccweb': '1' },
                                body: JSON.stringify(body || {}), credentials: 'same-origin' });
  let j = {};
  try { j = await r.json(); } catch (e) { j = { ok: false, message: `HTTP ${r.status}` }; }
  return j;
}

async function sendPain(score) {
  const p = ui.painFor;
  const j = await post('/api/pain', { score });
  if (j.ok) {
    ui.lastPainSet = `${p.session}/${p.set}`;
    $('pain-done').textContent = `Pain ${score}/10 saved for set ${j.set}.` +
      (j.session_ended ? ' That is more than the programme allows: the session ends here, and the next one starts a little lower.'
       : score > 5 ? ' That is more than the programme allows (5): tell your clinician.' : '');
  } else {
    $('pain-done').textContent = 'Not saved: ' + (j.message || j.error);
  }
  $('pain-done').hidden = false;
  renderPain();
}

function renderControls() {
  const ctl = canControl(), st = ui.st;
  $('controls').hidden = !ctl;
  $('pair').hidden = !ui.session || ctl;
  if (!ctl || !st) return;
  const startable = ['idle', 'ready', 'paused', 'session_done'].includes(st.state);
  $('start').hidden = !(ui.session.allow_start && startable);
  $('next').hidden = !(ui.session.allow_start && st.state === 'rest');
}

async function command(name) {
  const j = await post('/api/' + name);
  if (!j.ok) $('verdict').textContent = `${name}: ${j.message || j.error}`;
}

// Hold-to-confirm: the action runs only if the press lasts HOLD_MS.
function holdButton(el, action) {
  let timer = null;
  const cancel = () => { clearTimeout(timer); timer = null; el.classList.remove('holding'); };
  el.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    el.classList.add('holding');
    timer = setTimeout(() => { cancel(); action(); }, HOLD_MS);
  });
  for (const ev of ['pointerup', 'pointerleave', 'pointercancel']) el.addEventListener(ev, cancel);
  el.addEventListener('contextmenu', (e) => e.preventDefault());
}

$('stop').addEventListener('click', () => command('stop'));
holdButton($('start'), () => command('start'));
holdButton($('next'), () => command('next-set'));

$('pair-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const j = await post('/api/pair', { pin: $('pin').value.trim() });
  $('pair-msg').textContent = j.ok ? 'Paired.' : (j.message || j.error);
  if (j.ok) { $('pin').value = ''; await loadSession(); }
});

$('unpair').addEventListener('click', async () => { await post('/api/unpair'); await loadSession(); });

async function loadSession() {
  try {
    ui.session = await (await fetch('/api/session', { credentials: 'same-origin' })).json();
  } catch (e) {
    return;
  }
  setText('sessions-per-day', ui.session.sessions_per_day);
  $('csv').hidden = !ui.session.control;
  $('unpair-row').hidden = !ui.session.paired;
  renderControls();
  renderPain();
  if (ui.session.on_rig && ui.session.control) loadRigPin();
}

async function loadRigPin() {
  try {
    const j = await (await fetch('/api/pin')).json();
    $('rig-pin').hidden = !j.ok;
    if (j.ok) {
      $('rig-pin-digits').textContent = j.pin;
      $('rig-pin-left').textContent = `(valid ${Math.ceil(j.expires_s / 60)} min)`;
    }
  } catch (e) { /* eccweb restarting */ }
}

// ---- progress -------------------------------------------------------------------------
function bars(canvas, values, opts) {
  const g = canvas.getContext('2d');
  const w = canvas.width = canvas.clientWidth * devicePixelRatio, h = canvas.height = canvas.clientHeight * devicePixelRatio;
  const top = opts.max || Math.max(1, ...values.map((v) => v || 0)) * 1.15, pad = 18 * devicePixelRatio;
  g.clearRect(0, 0, w, h);
  const bw = w / Math.max(values.length, 1);
  values.forEach((v, i) => {
    if (v === null || v === undefined) return;
    const bh = (v / top) * (h - 2 * pad);
    g.fillStyle = opts.color(v);
    g.fillRect(i * bw + bw * 0.15, h - pad - bh, bw * 0.7, bh);
  });
  if (opts.plan !== undefined) {
    const py = h - pad - (opts.plan / top) * (h - 2 * pad);
    g.strokeStyle = '#e6edf3'; g.setLineDash([6, 6]); g.beginPath(); g.moveTo(0, py); g.lineTo(w, py); g.stroke();
    g.setLineDash([]);
  }
  g.fillStyle = '#8b949e';
  g.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
  g.fillText(String(Math.round(top)), 4, pad);
  if (!values.length) g.fillText('no sessions yet', w / 2 - 40 * devicePixelRatio, h / 2);
}

function dayKey(d) { return d.toISOString().slice(0, 10); }

async function loadProgress() {
  let j;
  try { j = await (await fetch('/api/history?days=28')).json(); } catch (e) { j = { ok: false }; }
  if (!j.ok) { $('progress-msg').textContent = 'No history: ' + (j.message || 'eccd is not answering'); return; }
  const sessions = j.sessions || [], perDay = new Map();
  const today = new Date();
  for (let i = 27; i >= 0; i--) perDay.set(dayKey(new Date(today - i * 86400e3)), 0);
  for (const s of sessions) { const k = s.started.slice(0, 10); if (perDay.has(k)) perDay.set(k, perDay.get(k) + 1); }
  const reps = sessions.map((s) => s.sets.reduce((a, x) => a + x.counted, 0));
  const band = sessions.map((s) => { const v = s.sets.filter((x) => x.in_band !== null); return v.length ? 100 * v.reduce((a, x) => a + x.in_band, 0) / v.length : null; });
  const pain = sessions.map((s) => { const v = s.sets.filter((x) => x.pain !== null).map((x) => x.pain); return v.length ? Math.max(...v) : null; });
  const plan = ui.session ? ui.session.sessions_per_day : 2;
  bars($('p-days'), [...perDay.values()], { plan, max: plan + 1, color: (v) => v >= plan ? '#3fb950' : '#d29922' });
  bars($('p-reps'), reps, { color: () => '#4da3ff' });
  bars($('p-band'), band, { max: 100, color: (v) => v >= 90 ? '#3fb950' : '#d29922' });
  bars($('p-pain'), pain, { max: 10, color: (v) => v <= 3 ? '#3fb950' : v <= 5 ? '#d29922' : '#e5383b' });
  const done = sessions.filter((s) => band[sessions.indexOf(s)] !== null);
  const last = done[done.length - 1];
  ui.beat = last ? band[sessions.indexOf(last)] : null;
  $('beat').textContent = ui.beat !== null ? `Last session: ${Math.round(ui.beat)}% of the time in band. Beat it!` : '';
  $('target').textContent = ui.beat !== null ? `to beat: ${Math.round(ui.beat)}% in band` : '';
  const n = sessions.length, full = [...perDay.values()].filter((v) => v >= plan).length;
  $('progress-msg').textContent = `${n} session${n === 1 ? '' : 's'} in the last 28 days; ` +
    `${full} day${full === 1 ? '' : 's'} with the plan's ${plan}.`;
}

$('tab').addEventListener('click', () => {
  const showing = !$('progress').hidden;
  $('progress').hidden = showing;
  $('live').hidden = !showing;
  $('tab').textContent = showing ? 'Progress' : 'Live';
  if (!showing) loadProgress();
});

// ---- start ----------------------------------------------------------------------------
function connect() {
  const es = new EventSource('/events');
  es.onmessage = (m) => {
    let j;
    try { j = JSON.parse(m.data); } catch (e) { return; }   // a line cut short: skip it
    if (j.link === 'down') {
      ui.lastLine = Date.now();
      showBanner('link', 'The rig is not answering', j.message);
      return;
    }
    if (j.watch) onLine(j);
  };
}

buildPainButtons();
soundButton();
loadSession();
loadProgress();
connect();
setInterval(() => { loadSession(); }, 30000);
requestAnimationFrame(frame);
