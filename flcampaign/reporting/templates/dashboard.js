(() => {
  const DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  const progress = document.getElementById("progress");
  const panel = document.getElementById("panel");

  function customdata(i) {
    const [trace, point] = DATA.points[i];
    return progress.data[trace].customdata[point];
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function select(custom) {
    const [, candidate, title, status, diff, args] = custom;
    panel.querySelector(".candidate").textContent = candidate + " (" + status + ")";
    panel.querySelector(".title").textContent = title;
    const knobs = Object.entries(args || {});
    panel.querySelector(".args tbody").replaceChildren(...knobs.map(([knob, value]) => {
      const tr = document.createElement("tr");
      tr.append(cell(knob), cell(JSON.stringify(value)));
      return tr;
    }));
    panel.querySelector(".args").hidden = !knobs.length;
    panel.querySelector(".no-args").hidden = knobs.length > 0;
    panel.querySelector("pre").textContent = diff || "(no source change: knob values only)";
  }

  function hover(i) {
    const [curveNumber, pointNumber] = DATA.points[i];
    Plotly.Fx.unhover(progress);  // also ends Plotly's hover throttle, so every call draws its own label
    Plotly.Fx.hover(progress, [{curveNumber, pointNumber}]);
    const label = progress.querySelector(".hoverlayer .hovertext");
    if (!label) return "";
    const lines = Array.from(label.querySelectorAll("text.nums tspan.line"));
    return lines.length ? lines.map((line) => line.textContent).join("\n") : label.textContent;
  }

  const table = document.getElementById("ledger");
  const headers = Array.from(table.tHead.rows[0].cells);
  const body = table.tBodies[0];
  function key(row, column) {
    const text = row.cells[column].textContent.trim();
    const number = Number(text);
    return text === "" ? null : Number.isFinite(number) ? number : text.toLowerCase();
  }
  headers.forEach((th, column) => th.addEventListener("click", () => {
    const ascending = th.dataset.sort !== "asc";
    headers.forEach((other) => delete other.dataset.sort);
    th.dataset.sort = ascending ? "asc" : "desc";
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a, column), y = key(b, column);
      if (x === null || y === null) return (x === null) - (y === null);  // empty cells last either way
      const order = typeof x !== typeof y ? (typeof x === "number" ? -1 : 1) : x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    body.append(...rows);
  }));
  const text = document.getElementById("filter-text");
  const status = document.getElementById("filter-status");
  const count = document.getElementById("filter-count");
  function filter() {
    const needle = text.value.trim().toLowerCase();
    let shown = 0;
    for (const row of body.rows) {
      row.hidden = !((!status.value || row.dataset.status === status.value)
        && (!needle || row.textContent.toLowerCase().includes(needle)));
      shown += !row.hidden;
    }
    count.textContent = shown + " of " + body.rows.length + " rows";
  }
  text.addEventListener("input", filter);
  status.addEventListener("change", filter);
  filter();

  const config = {responsive: true, displaylogo: false};
  const plots = Object.entries(DATA.figures).map(
    ([id, figure]) => Plotly.newPlot(id, figure.data, figure.layout, config));
  Promise.all(plots).then(() => {
    progress.on("plotly_click", (event) => select(event.points[0].customdata));
    if (DATA.points.length) select(customdata(DATA.selected));
    window.flcampaignDashboard = {
      rows: DATA.rows, points: DATA.points.length, hover, customdata, select: (i) => select(customdata(i)),
    };
    document.dispatchEvent(new Event("dashboard-ready"));
    document.body.dataset.ready = "1";
  });
})();
