/* The Rocky view: fetches one task instance's view from the read-only API and draws it.
 * Plain JavaScript, no framework, no network but this page's own origin. Every value from the
 * API is put in the page as text (textContent), never as markup. */
"use strict";

(function () {
  const PAGE_SIZE = 50;
  const CHART_BARS = 15;
  const STATUS_ORDER = ["failed", "contained", "skipped", "landed"];
  const STATUS_CLASS = { landed: "ok", failed: "bad", contained: "warn", skipped: "info" };
  const LEVEL_CLASS = { error: "bad", warning: "warn", ok: "ok", info: "info" };
  const OUTCOME_CLASS = { success: "ok", partial: "warn", skipped: "info", failed: "bad" };

  // -- where we are: /<base>/rocky/view/<dag>/<run>/<task>/<map_index> ------------------------
  const path = window.location.pathname;
  const root = path.slice(0, path.lastIndexOf("/view/"));
  const uiBase = root.replace(/\/rocky$/, "");
  const segments = path.slice(root.length + "/view/".length).split("/");
  const decoded = segments.map((s) => { try { return decodeURIComponent(s); } catch (e) { return s; } });

  // -- theme: follow the Airflow UI around the iframe (its <html class="dark">) ----------------
  function parentRoot() {
    try { return window.parent !== window ? window.parent.document.documentElement : null; } catch (e) { return null; }
  }
  function wantedTheme() {
    const outer = parentRoot();
    if (outer) return outer.classList.contains("dark") ? "dark" : "light";
    let stored = null;
    try { stored = window.localStorage.getItem("theme"); } catch (e) { /* storage may be blocked */ }
    if (stored === "dark" || stored === "light") return stored;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function applyTheme() { document.documentElement.dataset.theme = wantedTheme(); }
  applyTheme();
  const outer = parentRoot();
  if (outer && window.MutationObserver) {
    new MutationObserver(applyTheme).observe(outer, { attributes: true, attributeFilter: ["class"] });
  }
  window.addEventListener("storage", applyTheme);

  // -- DOM helpers ----------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }
  const num = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "—");
  function duration(ms) {
    if (typeof ms !== "number") return "—";
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    const s = Math.round(ms / 1000);
    return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  }
  const pill = (text, cls) => el("span", { class: `pill ${cls || "info"}`, text });
  const fact = (k, v) => el("div", { class: "fact" }, el("div", { class: "k", text: k }), el("div", { class: "v" }, v));
  const card = (title, ...body) => el("section", { class: "card" }, title ? el("h2", { text: title }) : null, ...body);

  /* A link into the Airflow UI. The iframe's sandbox does not let it navigate the page around it,
   * so a plain click is handed to the UI's own router (same origin): push the URL, announce it. */
  function uiLink(href, text) {
    return el("a", {
      href,
      text,
      onclick: (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        try {
          const top = window.parent;
          if (top === window) return;
          top.history.pushState(null, "", href);
          top.dispatchEvent(new top.PopStateEvent("popstate", { state: null }));
          event.preventDefault();
        } catch (e) { /* not same origin: let the browser try */ }
      },
    });
  }
  const q = (s) => encodeURIComponent(s);
  const assetHref = (id) => `${uiBase}/assets/${q(String(id))}`;
  const taskHref = (t, taskId, mapIndex) =>
    `${uiBase}/dags/${q(t.dag_id)}/runs/${q(t.run_id)}/tasks/${q(taskId)}` + (mapIndex >= 0 ? `/mapped/${mapIndex}` : "");

  // -- sections -------------------------------------------------------------------------------
  function header(view) {
    const h = view.header || {};
    const t = view.task;
    const status = h.status || h.outcome || "unknown";
    const facts = [
      ["outcome", h.outcome],
      ["category", h.category],
      ["engine run id", h.run_id && el("span", { class: "mono", text: h.run_id })],
      ["engine version", h.engine_version],
      ["duration", h.duration_ms !== undefined ? duration(h.duration_ms) : null],
      ["exit code", h.exit_code],
      ["pipeline", h.pipeline_type],
      ["task state", t.state && `${t.state} (try ${t.try_number})`],
      ["idempotency key", h.idempotency_key && el("span", { class: "mono", text: h.idempotency_key })],
      ["skipped by run", h.skipped_by_run_id],
      ["check gate failed", h.check_gate_failed ? "yes" : null],
      ["verify_after failed", h.verify_after_failed ? "yes" : null],
      ["interrupted", h.interrupted ? "yes" : null],
    ].filter(([, v]) => v !== null && v !== undefined && v !== "");
    const command = view.command
      ? el("pre", { class: "cmd", title: "The command as logged; secret values are ***" }, view.command.join(" "))
      : el("p", { class: "muted", text: view.recorded_by_view
        ? "Command: not built (the task was refused before anything ran)."
        : "Command: not recorded (this summary was written by an airflow-provider-rocky release before the Rocky view; upgrade the workers to see it)." });
    return card(null,
      el("h1", {}, `Rocky ${view.kind}`, pill(status, OUTCOME_CLASS[h.outcome] || "info"),
        h.category ? pill(h.category, "bad") : null),
      el("div", { class: "grid" }, facts.map(([k, v]) => fact(k, v))),
      command);
  }

  function failure(f) {
    if (!f) return null;
    const retry = f.retryable === undefined || f.retryable === null ? null
      : pill(f.retryable ? "a retry may help" : "a retry will not help", f.retryable ? "warn" : "bad");
    const tail = f.stderr_tail && f.stderr_tail.length ? f.stderr_tail : null;
    return el("section", { class: "card failure", "data-section": "failure" },
      el("h2", {}, "Error ", pill(f.category || "unknown", "bad"), " ", retry),
      f.advice ? el("p", { class: "advice", text: `What to do: ${f.advice}` }) : null,
      f.message ? el("pre", { class: "err" }, f.message)
        : el("p", { class: "muted", text: "The message is in the task log (this summary did not record it)." }),
      tail ? el("details", { open: true }, el("summary", { text: `Last ${tail.length} stderr line(s) of the engine` }),
        el("pre", {}, tail.join("\n"))) : null);
  }

  function chart(rows) {
    const timed = rows.filter((r) => typeof r.duration_ms === "number");
    if (!timed.length) return el("p", { class: "muted", text: "No durations per table in this summary." });
    const top = timed.slice().sort((a, b) => b.duration_ms - a.duration_ms).slice(0, CHART_BARS);
    const max = Math.max(1, ...top.map((r) => r.duration_ms));
    const rowH = 17, labelW = 300, barW = 420, width = labelW + barW + 90, height = top.length * rowH + 4;
    const body = svg("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Duration per table, the ${top.length} slowest` });
    top.forEach((r, i) => {
      const y = i * rowH + 2;
      const name = r.table.length > 40 ? `…${r.table.slice(-39)}` : r.table;
      body.append(svg("text", { x: labelW - 6, y: y + 12, "text-anchor": "end" }, name));
      body.append(svg("rect", { class: `bar ${r.status}`, x: labelW, y, height: rowH - 5,
        width: Math.max(1, Math.round((barW * r.duration_ms) / max)) }, svg("title", {}, `${r.table}: ${duration(r.duration_ms)}`)));
      body.append(svg("text", { class: "val", x: labelW + barW + 6, y: y + 12 }, duration(r.duration_ms)));
    });
    const more = timed.length > top.length ? ` (the ${top.length} slowest of ${num(timed.length)})` : "";
    return el("details", { open: true, "data-section": "chart" }, el("summary", { text: `Duration per table${more}` }), body);
  }

  function tablesSection(view) {
    const data = view.tables;
    const state = { status: "all", search: "", sort: "status", page: 0 };
    const rows = data.rows;
    const tiles = el("div", { class: "tiles" });
    const toolbar = el("div", { class: "toolbar" });
    const list = el("div", {});
    const count = (s) => rows.filter((r) => r.status === s).length;
    function tile(status, label, total) {
      return el("button", { class: "tile", type: "button", "aria-pressed": String(state.status === status),
        onclick: () => { state.status = status; state.page = 0; redraw(); } },
        el("div", { class: "n", text: num(total) }), el("div", { class: "muted", text: label }));
    }
    const search = el("input", { type: "search", placeholder: "Filter tables by name", "aria-label": "Filter tables by name",
      oninput: (e) => { state.search = e.target.value.toLowerCase(); state.page = 0; redraw(); } });
    const sort = el("select", { "aria-label": "Sort tables", onchange: (e) => { state.sort = e.target.value; state.page = 0; redraw(); } },
      el("option", { value: "status", text: "failed first" }), el("option", { value: "duration", text: "slowest first" }),
      el("option", { value: "rows", text: "most rows first" }), el("option", { value: "name", text: "by name" }));
    const pager = el("span", { class: "muted" });
    const prev = el("button", { type: "button", text: "‹ Prev", onclick: () => { state.page--; redraw(); } });
    const next = el("button", { type: "button", text: "Next ›", onclick: () => { state.page++; redraw(); } });
    toolbar.append(search, sort, prev, pager, next);
    function filtered() {
      let out = rows.filter((r) => (state.status === "all" || r.status === state.status)
        && (!state.search || r.table.toLowerCase().includes(state.search)));
      const by = {
        status: (a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status),
        duration: (a, b) => (b.duration_ms ?? -1) - (a.duration_ms ?? -1),
        rows: (a, b) => (b.rows ?? -1) - (a.rows ?? -1),
        name: (a, b) => a.table.localeCompare(b.table),
      }[state.sort];
      return out.slice().sort(by);
    }
    function redraw() {
      const totals = data.totals;
      const all = Object.values(totals).reduce((a, b) => a + b, 0);
      tiles.replaceChildren(tile("all", "tables", Math.max(all, rows.length)),
        ...["failed", "landed", "skipped", "contained"].filter((s) => totals[s] || count(s))
          .map((s) => tile(s, s, Math.max(totals[s] || 0, count(s)))));
      const found = filtered();
      const pages = Math.max(1, Math.ceil(found.length / PAGE_SIZE));
      state.page = Math.min(Math.max(0, state.page), pages - 1);
      const start = state.page * PAGE_SIZE;
      const shown = found.slice(start, start + PAGE_SIZE);
      pager.textContent = found.length ? `${num(start + 1)}–${num(start + shown.length)} of ${num(found.length)}` : "no table matches";
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
      list.replaceChildren(tableOf(view, shown));
    }
    redraw();
    const notice = data.truncated ? el("p", { class: "notice", text:
      "The summary keeps the first 100 tables of each kind; the counts above are the run's own. "
      + "Set push_full_result=True on the task to see every table here." }) : null;
    const source = data.source === "full_result" ? el("p", { class: "muted", text: "Every table, from the full result (rocky_result)." }) : null;
    return el("section", { class: "card", "data-section": "tables" }, el("h2", { text: "Tables" }), tiles, notice, source,
      toolbar, list, chart(rows));
  }

  function tableOf(view, rows) {
    const head = el("tr", {}, ["Table", "Status", "Rows", "Duration", "Strategy", "Partition", "Asset"].map((h, i) =>
      el("th", { class: i === 2 || i === 3 ? "num" : null, text: h })));
    const body = el("tbody", {});
    for (const r of rows) {
      const asset = r.asset ? (r.asset.id !== null && r.asset.id !== undefined
        ? uiLink(assetHref(r.asset.id), r.asset.uri) : el("span", { class: "mono", text: r.asset.uri })) : "—";
      const detail = [];
      if (r.error && r.error.message) {
        detail.push(el("div", { class: "err" }, r.error.failure_kind ? `${r.error.failure_kind}: ` : "", r.error.message));
      }
      const chips = [...(r.observations || []).map((o) => el("span", { class: `chip ${o.kind === "note" ? "info" : "warn"}`, text: o.text })),
        ...(r.checks || []).map((c) => el("span", { class: `chip ${c.passed ? "ok" : c.passed === false ? "bad" : "info"}`,
          text: `check ${c.check}${c.severity ? ` (${c.severity})` : ""}: ${c.passed ? "passed" : c.passed === false ? "failed" : `not evaluated${c.reason ? `, ${c.reason}` : ""}`}` }))];
      if (chips.length) detail.push(el("div", { class: "chips" }, chips));
      body.append(el("tr", { class: detail.length ? "has-detail" : null, "data-table": r.table, "data-status": r.status },
        el("td", { class: "mono", text: r.table }), el("td", {}, pill(r.status, STATUS_CLASS[r.status])),
        el("td", { class: "num", text: num(r.rows) }), el("td", { class: "num", text: duration(r.duration_ms) }),
        el("td", { text: r.strategy || "—" }), el("td", { class: "mono", text: r.partition || "—" }), el("td", { class: "asset" }, asset)));
      if (detail.length) body.append(el("tr", { class: "detail" }, el("td", { colspan: 7 }, detail)));
    }
    return el("table", {}, el("thead", {}, head), body);
  }

  function checksSection(view) {
    const checks = (view.tables && view.tables.checks) || [];
    if (!checks.length) return null;
    const body = el("tbody", {}, checks.slice(0, 500).map((c) => el("tr", {},
      el("td", { class: "mono", text: c.table || "—" }), el("td", { text: c.check }),
      el("td", { text: c.severity || "—" }),
      el("td", {}, pill(c.passed ? "passed" : c.passed === false ? "failed" : "not evaluated", c.passed ? "ok" : c.passed === false ? "bad" : "info")),
      el("td", { class: "muted", text: c.source === "pipes" ? "Pipes" : "" }))));
    const failed = view.tables.checks_failed_total;
    return card(`Checks${typeof failed === "number" ? ` (${num(failed)} failed)` : ""}`,
      el("table", {}, el("thead", {}, el("tr", {}, ["Table", "Check", "Severity", "Result", ""].map((h) => el("th", { text: h })))), body));
  }

  function runLevel(view) {
    const lists = view.run_level || {};
    const unmatched = (view.tables && view.tables.unmatched) || [];
    const parts = [];
    for (const b of lists.budget_breaches || []) parts.push(el("li", {}, pill("budget", "bad"), ` ${b.limit_type}: ${b.actual} over the limit ${b.limit}`));
    for (const w of lists.volume_warnings || []) parts.push(el("li", {}, pill("volume", "warn"), ` ${w}`));
    for (const s of lists.source_syncs_failed || []) parts.push(el("li", {}, pill("source sync", "warn"), ` ${Object.entries(s).map(([k, v]) => `${k}=${v}`).join(" ")}`));
    for (const d of lists.consumer_diagnostics || []) parts.push(el("li", {}, pill(d.severity || "diagnostic", "warn"), ` ${d.model}: ${d.code} ${d.message}`));
    for (const u of unmatched) parts.push(el("li", {}, pill(u.kind === "checks" ? "check" : "observation", "info"),
      ` ${u.table || "run"}: ${u.text || `${u.check} ${u.passed === false ? "failed" : "not evaluated"}`}`));
    return parts.length ? card("Observed during the run", el("ul", { class: "items" }, parts)) : null;
  }

  function gateSection(gate) {
    if (!gate) return null;
    const items = (gate.items || []).map((i) => el("li", { "data-level": i.level }, pill(i.level, LEVEL_CLASS[i.level]), " ",
      el("strong", { text: i.title }), i.location ? el("span", { class: "loc mono", text: i.location }) : null,
      i.text ? el("div", { text: i.text }) : null, i.hint ? el("div", { class: "hint", text: `Suggestion: ${i.hint}` }) : null));
    const more = gate.items_total && gate.items_total > (gate.items || []).length
      ? el("p", { class: "notice", text: `The summary keeps ${gate.items.length} of ${num(gate.items_total)}.` }) : null;
    return el("section", { class: "card", "data-section": "gate" }, el("h2", { text: gate.title }),
      el("div", { class: "grid" }, (gate.facts || []).map(([k, v]) => fact(k, String(v)))),
      items.length ? el("ul", { class: "items" }, items) : el("p", { class: "muted", text: "Nothing to report." }), more);
  }

  function planSection(view) {
    const plan = view.plan;
    if (!plan) return null;
    const purposes = Object.entries(plan.purposes || {}).sort((a, b) => b[1] - a[1]);
    const max = Math.max(1, ...purposes.map(([, n]) => n));
    const barsH = purposes.length * 20 + 4;
    const bars = svg("svg", { class: "chart", width: 520, height: barsH, viewBox: `0 0 520 ${barsH}`, role: "img", "aria-label": "Statements by purpose" });
    purposes.forEach(([p, n], i) => {
      bars.append(svg("text", { x: 150, y: i * 20 + 14, "text-anchor": "end" }, p));
      bars.append(svg("rect", { class: "bar", x: 156, y: i * 20 + 3, height: 14, width: Math.max(1, Math.round((300 * n) / max)) }));
      bars.append(svg("text", { class: "val", x: 462, y: i * 20 + 14 }, num(n)));
    });
    const targets = plan.targets.length ? el("details", {}, el("summary", { text: `${num(plan.targets_total ?? plan.targets.length)} target table(s)` }),
      el("ul", {}, plan.targets.map((t) => el("li", { class: "mono", text: t })))) : null;
    const approvals = plan.approvals.length ? el("ul", { class: "items" }, plan.approvals.map((a) => el("li", {},
      pill(a.answer ? a.answer : (a.state === "deferred" ? "waiting for a reviewer" : a.state || "pending"), a.answer ? (/reject/i.test(a.answer) ? "bad" : "ok") : "warn"),
      " ", uiLink(taskHref(view.task, a.task_id, a.map_index) + "/required_actions", a.task_id),
      el("div", { text: a.subject }),
      a.responded_by ? el("div", { class: "muted", text: `answered by ${a.responded_by}${a.responded_at ? ` at ${a.responded_at}` : ""}` }) : null)))
      : el("p", { class: "muted", text: "No approval step in this DAG run (a human-in-the-loop task, e.g. ApprovalOperator)." });
    return el("div", { class: "columns", "data-section": "plan" },
      card("Statements by purpose", el("div", { class: "grid" }, plan.facts.map(([k, v]) => fact(k, String(v)))), bars, targets,
        plan.budget.length ? el("ul", { class: "items" }, plan.budget.map((b) => el("li", {}, pill(b.level, LEVEL_CLASS[b.level]), ` ${b.title}: ${b.text || ""}`))) : null),
      card("Approval", approvals));
  }

  function notes(view) {
    return view.notes && view.notes.length ? card("Notes", el("ul", {}, view.notes.map((n) => el("li", { text: n })))) : null;
  }

  function render(view) {
    const app = document.getElementById("rocky-view");
    if (!view.found) {
      app.replaceChildren(card(null, el("h1", {}, "Rocky ", pill("no Rocky summary", "info")), el("p", { text: view.reason })));
      return;
    }
    app.replaceChildren(...[header(view), failure(view.failure), planSection(view), gateSection(view.gate),
      view.tables ? tablesSection(view) : null, checksSection(view), runLevel(view), notes(view)].filter(Boolean));
  }

  function refusal(status, detail) {
    const app = document.getElementById("rocky-view");
    const title = { 401: "Not signed in", 403: "Not allowed", 404: "Not found" }[status] || `Error ${status}`;
    app.replaceChildren(card(null, el("h1", {}, "Rocky ", pill(title, status === 404 ? "info" : "bad")), el("p", { text: detail })));
  }

  async function main() {
    const app = document.getElementById("rocky-view");
    const started = performance.now();
    try {
      const response = await fetch(`${root}/api/tasks/${segments.join("/")}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      const fetched = performance.now();
      if (!response.ok) refusal(response.status, body.detail || response.statusText);
      else render(body);
      window.rockyTiming = { fetch_ms: fetched - started, draw_ms: performance.now() - fetched, total_ms: performance.now() };
    } catch (err) {
      refusal(0, `The Rocky view could not load its data: ${err}`);
    } finally {
      app.setAttribute("aria-busy", "false");
      document.documentElement.dataset.rendered = "true";
    }
  }
  document.title = `Rocky · ${decoded[2] || ""}`;
  main();
})();
