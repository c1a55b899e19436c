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
