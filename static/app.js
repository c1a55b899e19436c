// xgate dashboard behaviour. Pages have no inline scripts (their Content-Security-Policy
// allows scripts from /static only), so everything a page does beyond htmx lives here.
//
// Charts: views.ChartFigure renders <figure data-chart="ID"> and views.ChartData a
// <script type="application/json" id="chart-data-ID"> with {unit, series, data}, where data
// are uPlot's columns. Whenever htmx loads content (the page, or a swapped fragment), each
// chart's data are drawn: the first time with a new uPlot, later with setData, so the chart
// keeps its place while the numbers change.
(function () {
  'use strict';

  const colors = ['#2f6fba', '#c2410c', '#2e8540', '#7c3aed', '#b91c1c', '#0f766e', '#a16207'];
  const height = 220;
  const charts = new Map(); // id -> {plot, holder, key}

  function format(v) {
    if (v == null) return '–';
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }

  function options(spec, width) {
    return {
      width: width,
      height: height,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      series: [{}].concat(
        spec.series.map((name, i) => ({
          label: name,
          stroke: colors[i % colors.length],
          width: 2,
          value: (u, v) => format(v),
        })),
      ),
      axes: [{}, { label: spec.unit, size: 60 }],
    };
  }

  function draw(id, spec) {
    const figure = document.querySelector('[data-chart="' + CSS.escape(id) + '"]');
    if (!figure || typeof uPlot === 'undefined') return;
    const holder = figure.querySelector('.chart-canvas');
    const key = spec.series.join('\u0000') + '|' + spec.unit;
    const current = charts.get(id);
    if (current && current.holder === holder && current.key === key) {
      current.plot.setData(spec.data);
    } else {
      if (current) current.plot.destroy();
      holder.textContent = '';
      const plot = new uPlot(options(spec, holder.clientWidth || 300), spec.data, holder);
      charts.set(id, { plot: plot, holder: holder, key: key });
      new ResizeObserver(() => {
        const c = charts.get(id);
        if (c && c.holder === holder && holder.clientWidth > 0) {
          c.plot.setSize({ width: holder.clientWidth, height: height });
        }
      }).observe(holder);
    }
    figure.dataset.points = String(spec.data.length ? spec.data[0].length : 0);
    figure.dataset.drawn = 'true';
  }

  function drawCharts(root) {
    const scripts = [];
    if (root.matches && root.matches('script[id^="chart-data-"]')) scripts.push(root);
    if (root.querySelectorAll) scripts.push(...root.querySelectorAll('script[id^="chart-data-"]'));
    for (const s of scripts) {
      try {
        draw(s.id.slice('chart-data-'.length), JSON.parse(s.textContent));
      } catch (e) {
        console.error('chart ' + s.id, e);
      }
    }
  }

  htmx.onLoad(drawCharts);
})();

// ==== Authorization and Events pages (views/authz.templ, views/events.templ) ====
(function () {
  'use strict';

  // Keep the keyboard focus across a swap of a list (moving a rule, the webhook list's
  // refresh): the element with the same data-testid gets it back, or when that is now
  // disabled (a rule moved to the top), the row's first enabled button.
  const keepFocusIn = ['authz-rules', 'events-webhooks-list'];
  let refocus = null;
  document.addEventListener('htmx:beforeSwap', (e) => {
    const target = e.detail.target;
    const active = document.activeElement;
    refocus = null;
    if (target && keepFocusIn.includes(target.id) && active && target.contains(active)) {
      const row = active.closest('[data-testid]:not(button):not(a)');
      refocus = { id: active.dataset.testid, row: row && row !== target ? row.dataset.testid : null };
    }
  });
  document.addEventListener('htmx:afterSettle', () => {
    if (!refocus) return;
    const want = refocus;
    refocus = null;
    const byID = (id) => id && document.querySelector('[data-testid="' + CSS.escape(id) + '"]');
    let el = byID(want.id);
    if (el && el.disabled) {
      const row = byID(want.row);
      el = row ? row.querySelector('button:not([disabled]), a[href]') : null;
    }
    if (el) el.focus();
  });

  // The rule form shows the inputs of the chosen kind of client condition.
  function whoKinds(root) {
    const forms = [];
    if (root.matches && root.matches('[data-authz-who-root]')) forms.push(root);
    if (root.querySelectorAll) forms.push(...root.querySelectorAll('[data-authz-who-root]'));
    for (const form of forms) {
      const select = form.querySelector('[data-authz-who-kind]');
      if (!select || select.dataset.bound) continue;
      select.dataset.bound = 'true';
      const show = () => {
        for (const part of form.querySelectorAll('[data-authz-who-for]')) {
          part.hidden = !part.dataset.authzWhoFor.split(' ').includes(select.value);
        }
      };
      select.addEventListener('change', show);
      show();
    }
  }

  // --- the live events ---

  function two(n) {
    return String(n).padStart(2, '0');
  }

  function timeOf(at) {
    const d = new Date(at);
    if (isNaN(d)) return at || '';
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  function details(ev) {
    const parts = [];
    if (ev.type === 'client.authorize' || ev.type === 'client.authenticate') parts.push(ev.allowed ? 'allowed' : 'denied');
    if (ev.topic && ev.type.startsWith('message.')) parts.push('QoS ' + ev.qos);
    if (ev.reason) parts.push(ev.reason);
    return parts.join(', ');
  }

  // peer shows an IPv4 client of a dual-stack listener as IPv4: "[::ffff:10.0.0.5]:4000" is
  // "10.0.0.5:4000".
  function peer(p) {
    const m = /^\[::ffff:(\d+\.\d+\.\d+\.\d+)\]:(\d+)$/i.exec(p || '');
    return m ? m[1] + ':' + m[2] : p || '';
  }

  const columns = [
    ['Time', null],
    ['Event', 'type'],
    ['Gateway', null],
    ['Client ID', 'clientid'],
    ['Username', 'username'],
    ['Peer', 'peer'],
    ['Topic', 'topic'],
    ['Details', null],
  ];

  function row(ev) {
    const tr = document.createElement('tr');
    tr.setAttribute('data-testid', 'events-row');
    tr.dataset.type = ev.type || '';
    tr.dataset.gateway = ev.gateway || '';
    tr.dataset.clientid = ev.clientid || '';
    tr.dataset.username = ev.username || '';
    for (const [label, field] of columns) {
      const td = document.createElement('td');
      td.dataset.label = label;
      if (label === 'Time') {
        const t = document.createElement('time');
        t.dateTime = ev.at || '';
        t.textContent = timeOf(ev.at);
        td.appendChild(t);
      } else if (label === 'Event') {
        const b = document.createElement('span');
        b.className = 'events-type events-type-' + String(ev.type || '').split('.')[0];
        b.textContent = ev.type || '';
        td.appendChild(b);
      } else if (label === 'Gateway') {
        td.textContent = ev.gateway || '';
        if (ev.listener) td.title = ev.listener;
      } else if (label === 'Peer') {
        td.textContent = peer(ev.peer);
        if (ev.peer) td.title = ev.peer;
      } else if (label === 'Details') {
        td.textContent = details(ev);
      } else {
        td.textContent = ev[field] == null ? '' : String(ev[field]);
      }
      tr.appendChild(td);
    }
    return tr;
  }

  function liveEvents(list) {
    if (list.dataset.bound) return;
    list.dataset.bound = 'true';
    const section = list.closest('section') || document;
    const form = section.querySelector('[data-events-filter]');
    const status = section.querySelector('[data-testid="events-status"]');
    const pause = section.querySelector('[data-events-pause]');
    const clear = section.querySelector('[data-events-clear]');
    const count = section.querySelector('[data-events-count]');
    const empty = section.querySelector('[data-events-empty]');
    const max = Number(list.dataset.max) || 200;
    let source = null;
    let paused = false;
    let waiting = []; // events that came while paused, oldest first
    let dropped = 0;

    function setStatus(state, text) {
      status.dataset.state = state;
      status.textContent = text;
    }

    function showCount() {
      let text = list.rows.length + ' shown';
      if (paused) text += ', ' + waiting.length + ' waiting';
      if (dropped) text += ', ' + dropped + ' dropped by the server (the page fell behind)';
      count.textContent = text;
      empty.hidden = list.rows.length > 0;
    }

    function add(ev) {
      list.insertBefore(row(ev), list.firstChild);
      while (list.rows.length > max) list.deleteRow(list.rows.length - 1);
    }

    function connect(url) {
      if (source) source.close();
      source = null;
      dropped = 0;
      if (!url) {
        setStatus('idle', 'Not connected: fix the filter.');
        return;
      }
      setStatus('connecting', 'Connecting…');
      const es = new EventSource(url);
      source = es;
      es.onopen = () => {
        if (source === es) setStatus(paused ? 'paused' : 'live', paused ? 'Paused' : 'Live');
      };
      es.onmessage = (m) => {
        let ev;
        try {
          ev = JSON.parse(m.data);
        } catch (e) {
          return;
        }
        if (paused) {
          waiting.push(ev);
          if (waiting.length > max) waiting.shift();
        } else {
          add(ev);
        }
        showCount();
      };
      es.addEventListener('dropped', (m) => {
        try {
          dropped = JSON.parse(m.data).dropped || dropped;
        } catch (e) {}
        showCount();
      });
      es.onerror = () => {
        if (source !== es) return;
        if (es.readyState === EventSource.CLOSED) {
          setStatus('error', 'Disconnected: reload the page (the session may have ended).');
        } else {
          setStatus('connecting', 'Reconnecting…');
        }
      };
    }

    function filterQuery() {
      const q = new URLSearchParams();
      for (const [k, v] of new FormData(form)) {
        if (String(v).trim() !== '') q.append(k, String(v).trim());
      }
      const s = q.toString();
      return s ? '?' + s : '';
    }

    function applyFilter() {
      const query = filterQuery();
      history.replaceState(null, '', '/events' + query);
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      for (const el of form.querySelectorAll('.events-field-error')) el.remove();
      list.replaceChildren();
      waiting = [];
      connect('/events/stream' + query);
      showCount();
    }

    if (form) {
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        applyFilter();
      });
      // A choice applies at once; the client ID when it is complete (Enter, or leaving it).
      form.addEventListener('change', () => applyFilter());
    }
    pause.addEventListener('click', () => {
      paused = !paused;
      pause.setAttribute('aria-pressed', String(paused));
      pause.textContent = paused ? 'Resume' : 'Pause';
      if (!paused) {
        for (const ev of waiting) add(ev);
        waiting = [];
      }
      if (source && source.readyState === EventSource.OPEN) setStatus(paused ? 'paused' : 'live', paused ? 'Paused' : 'Live');
      showCount();
    });
    clear.addEventListener('click', () => {
      list.replaceChildren();
      waiting = [];
      showCount();
    });
    window.addEventListener('pagehide', () => source && source.close());
    connect(list.dataset.streamUrl);
    showCount();
  }

  htmx.onLoad((root) => {
    whoKinds(root);
    const lists = [];
    if (root.matches && root.matches('[data-events-live]')) lists.push(root);
    if (root.querySelectorAll) lists.push(...root.querySelectorAll('[data-events-live]'));
    for (const list of lists) liveEvents(list);
  });
})();
// ==== end Authorization and Events pages ====

// ==== Authentication page (views/authn.templ) ====
// The users import form (data-uiau-progress="<id of a <progress>>") shows how much of the
// file has been sent: htmx reports the XHR's upload (and download) progress as
// htmx:xhr:progress events on the form. The bar only moves forward during a request; the
// answer replaces the form, and with it the bar.
(function () {
  'use strict';

  function bar(evt) {
    const form = evt.target && evt.target.closest ? evt.target.closest('[data-uiau-progress]') : null;
    return form ? document.getElementById(form.getAttribute('data-uiau-progress')) : null;
  }

  document.addEventListener('htmx:beforeRequest', function (evt) {
    const p = bar(evt);
    if (!p) return;
    p.value = 0;
    p.hidden = false;
  });

  document.addEventListener('htmx:xhr:progress', function (evt) {
    const p = bar(evt);
    if (!p || !evt.detail.lengthComputable || !evt.detail.total) return;
    p.value = Math.max(p.value, Math.round((100 * evt.detail.loaded) / evt.detail.total));
  });
})();
// ==== end Authentication page ====

// ==== Gateways pages and generated forms (views/gateways.templ, views/form.templ) ====
// Tables of a generated form (a slice of structs): [data-form-add-row] clones the table's
// <template data-form-row-template> row with the next index in place of __row__ in its
// names, ids and labels; [data-form-remove-row] removes its row. Fields with
// data-show-if="field=a,b" are hidden unless the form's field has one of the values (a
// listener's TLS section shows for ssl and dtls only).
(function () {
  'use strict';

  const placeholder = /__row__/g;
  const attrs = ['name', 'id', 'for', 'data-testid', 'aria-label', 'aria-describedby'];

  function addRow(button) {
    const table = button.closest('[data-form-table]');
    if (!table) return;
    const rows = table.querySelector('[data-form-rows]');
    const tpl = table.querySelector('template[data-form-row-template]');
    if (!rows || !tpl || !tpl.content.firstElementChild) return;
    const index = Number(rows.dataset.nextRow || rows.children.length);
    rows.dataset.nextRow = String(index + 1);
    const row = tpl.content.firstElementChild.cloneNode(true);
    for (const el of [row, ...row.querySelectorAll('*')]) {
      for (const a of attrs) {
        const v = el.getAttribute(a);
        if (v && v.includes('__row__')) el.setAttribute(a, v.replace(placeholder, String(index)));
      }
    }
    rows.appendChild(row);
    const first = row.querySelector('input, select, textarea');
    if (first) first.focus();
  }

  function removeRow(button) {
    const table = button.closest('[data-form-table]');
    const row = button.closest('tr');
    if (row) row.remove();
    const add = table && table.querySelector('[data-form-add-row]');
    if (add) add.focus();
  }

  function applyShowIf(root) {
    if (!root || !root.querySelectorAll) return;
    const els = [...root.querySelectorAll('[data-show-if]')];
    if (root.matches && root.matches('[data-show-if]')) els.push(root);
    for (const el of els) {
      const form = el.closest('form');
      const [name, values] = (el.dataset.showIf || '').split('=');
      const control = form && form.elements.namedItem(name);
      if (!control || values === undefined) continue;
      el.hidden = !values.split(',').includes(control.value);
    }
  }

  document.addEventListener('click', (e) => {
    const add = e.target.closest && e.target.closest('[data-form-add-row]');
    if (add) {
      e.preventDefault();
      addRow(add);
      return;
    }
    const remove = e.target.closest && e.target.closest('[data-form-remove-row]');
    if (remove) {
      e.preventDefault();
      removeRow(remove);
    }
  });

  document.addEventListener('change', (e) => {
    const form = e.target.form || (e.target.closest && e.target.closest('form'));
    if (form) applyShowIf(form);
  });

  htmx.onLoad((root) => {
    const form = root.closest ? root.closest('form') : null;
    applyShowIf(form || root);
  });
})();
// ==== end Gateways pages ====
