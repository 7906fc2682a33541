// Manage Orders: the seller's page over the seller API (no framework, no build step, nothing from another origin).
// Everything shown is put in the page as text (text nodes and textContent, never HTML): an order note, a customer name or a
// product title holding HTML or script shows as those characters. The seller token lives in sessionStorage only
// and goes out as an Authorization header, never in a URL.
"use strict";

(function () {
  const BASE = document.querySelector('meta[name="app-base"]').content || "";
  const SESSION_KEY = "dropship.session";
  const TABS = [
    ["all", "All"], ["pending", "Pending"], ["awaiting_order", "Awaiting Order"],
    ["awaiting_payment", "Awaiting Payment"], ["awaiting_shipment", "Awaiting Shipment"],
    ["fulfilled", "Fulfilled"], ["canceled", "Canceled"], ["failed", "Failed"],
  ];
  const TAB_NAME = Object.fromEntries(TABS);
  // Polaris-like tones: warning = waiting on the seller, info = on its way, success = done, critical = failed.
  const TONE = {
    pending: "neutral", awaiting_order: "warning", awaiting_payment: "warning", awaiting_shipment: "info",
    fulfilled: "success", canceled: "neutral", failed: "critical",
  };
  const PLACEABLE = new Set(["awaiting_order"]);
  const ACTION_LABEL = {
    link: "Link the variant", retry: "Retry", reconnect: "Reconnect AliExpress", fulfill: "Fulfill by hand",
    pay: "Pay on AliExpress", cancel_on_aliexpress: "Open on AliExpress", sync: "Sync now", none: "",
  };
  const VIEW_KEYS = ["tab", "q", "since", "until", "attention", "cursor"];

  const $ = (id) => document.getElementById(id);
  const state = { session: null, rows: [], selected: new Set(), allMatching: false, counts: {}, overview: null };

  // ------------------------------------------------------------------ DOM helpers (text only)

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "href") node.setAttribute("href", safeUrl(value));
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeUrl(value) {
    // Only http(s) links to other sites, or our own relative ones: never javascript: or data:.
    const text = String(value);
    if (text.startsWith("#") || text.startsWith("/")) return text;
    try {
      const url = new URL(text);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : "#";
    } catch (_) {
      return "#";
    }
  }

  function external(href, text) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  function when(value) {
    if (!value) return "–";
    const date = new Date(value);
    return isNaN(date) ? String(value) : date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function notice(text, tone) {
    const box = $("notice");
    box.replaceChildren(h("span", {}, text), h("button", { type: "button", class: "link", onclick: () => { box.hidden = true; } }, "Dismiss"));
    box.className = "notice " + (tone || "info");
    box.hidden = false;
  }

  // ------------------------------------------------------------------ session and API

  function loadSession() {
    try {
      const raw = sessionStorage.getItem(SESSION_KEY);
      const parsed = raw ? JSON.parse(raw) : null;
      return parsed && parsed.shop && parsed.token ? parsed : null;
    } catch (_) {
      return null;
    }
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || ("HTTP " + status));
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(method, path, body, raw) {
    const headers = { Authorization: "Bearer " + state.session.token };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(BASE + "/shops/" + encodeURIComponent(state.session.shop) + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
      credentials: "omit", referrerPolicy: "no-referrer",
    });
    if (response.status === 401) {
      signOut("Your session ended or the token is wrong: sign in again.");
      throw new ApiError(401, { error: "unauthorized" });
    }
    if (raw && response.ok) return response;
    const text = await response.text();
    let data = {};
    try { data = text ? JSON.parse(text) : {}; } catch (_) { data = { error: text.slice(0, 200) }; }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function signOut(message) {
    sessionStorage.removeItem(SESSION_KEY);
    state.session = null;
    show("sign-in");
    $("sign-in-error").textContent = message || "";
  }

  // ------------------------------------------------------------------ URL = the view

  function params() {
    return new URLSearchParams(location.search);
  }

  function navigate(changes, replace) {
    const next = params();
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === undefined || value === "" || value === false) next.delete(key);
      else next.set(key, value);
    }
    if (state.session) next.set("shop", state.session.shop);
    const url = location.pathname + "?" + next.toString();
    if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
    route();
  }

  function viewQuery(extra) {
    const p = params();
    const query = new URLSearchParams();
    for (const key of VIEW_KEYS) if (p.get(key)) query.set(key, p.get(key));
    for (const [key, value] of Object.entries(extra || {})) {
      if (value === null) query.delete(key); else query.set(key, value);
    }
    return query;
  }

  // ------------------------------------------------------------------ screens

  function show(which) {
    $("sign-in").hidden = which !== "sign-in";
    $("app").hidden = which === "sign-in";
    $("nav").hidden = $("who").hidden = which === "sign-in";
    if (which !== "sign-in") {
      $("orders-view").hidden = which !== "orders";
      $("order-view").hidden = which !== "order";
      $("settings-view").hidden = which !== "settings";
    }
  }

  async function route() {
    if (!state.session) { show("sign-in"); return; }
    $("shop-name").textContent = state.session.shop;
    const p = params();
    if (p.get("connected") === "1") {
      notice("AliExpress is connected.", "success");
      navigate({ connected: null }, true);
      return;
    }
    const page = p.get("page") || "orders";
    await refreshOverview();
    try {
      if (page === "settings") { show("settings"); await loadSettings(); }
      else if (p.get("order")) { show("order"); await loadOrder(p.get("order")); }
      else { show("orders"); await loadOrders(); }
    } catch (error) {
      if (error.status !== 401) notice(error.message, "critical");
    }
  }

  // ------------------------------------------------------------------ header: connection and sync

  async function refreshOverview() {
    let overview;
    try { overview = await api("GET", "/overview"); } catch (error) { return; }
    state.overview = overview;
    const c = overview.connection;
    const badge = $("connection-badge");
    const banner = $("banner");
    if (c.state === "connected") {
      badge.textContent = "AliExpress connected";
      badge.className = "badge success";
      banner.hidden = true;
    } else {
      const text = c.state === "expiring"
        ? "Your AliExpress connection expires in " + c.days_left + " day" + (c.days_left === 1 ? "" : "s") + "."
        : "AliExpress is disconnected: " + (c.problem || "orders cannot be placed or synced") + ".";
      badge.textContent = c.state === "expiring" ? "AliExpress expires in " + c.days_left + " d" : "AliExpress disconnected";
      badge.className = "badge " + (c.state === "expiring" ? "warning" : "critical");
      banner.className = "banner " + (c.state === "expiring" ? "warning" : "critical");
      banner.replaceChildren(h("span", {}, text), h("button", { type: "button", class: "primary", id: "reconnect", onclick: reconnect }, "Reconnect"));
      banner.hidden = false;
    }
    const s = overview.sync;
    $("last-synced").textContent = when(s.last_synced_at);
    $("next-run").textContent = when(s.next_scheduled_run);
    $("sync-limit").textContent = s.shop_sync_available_at
      ? "Shop sync can run again at " + when(s.shop_sync_available_at) + " (once every " + s.shop_sync_interval_minutes + " minutes)."
      : "Once every " + s.shop_sync_interval_minutes + " minutes per shop.";
  }

  async function reconnect() {
    try {
      const answer = await api("POST", "/aliexpress/connect", {});
      location.assign(safeUrl(answer.authorize_url));
    } catch (error) {
      notice("Could not start the AliExpress connection: " + error.message, "critical");
    }
  }

  async function syncShop() {
    try {
      const answer = await api("POST", "/sync");
      notice(answer.mode === "queued"
        ? "Syncing " + answer.orders + " orders in the background."
        : "Synced: " + (answer.examined || 0) + " orders checked, " + (answer.changed || 0) + " changed.", "success");
    } catch (error) {
      if (error.status === 429) notice(error.message + " (try again in " + (error.body.retry_after || "a few") + " s)", "warning");
      else notice(error.message, "critical");
    }
    await refreshOverview();
    if (!$("orders-view").hidden) await loadOrders();
  }

  // ------------------------------------------------------------------ the list

  function renderTabs(counts, active, filtered) {
    $("tabs").replaceChildren(...TABS.map(([key, name]) => h("a", {
      href: "#", class: "tab" + (key === active && !filtered ? " active" : ""), dataset: { tab: key },
      "aria-current": key === active && !filtered ? "page" : null,
      onclick: (event) => { event.preventDefault(); navigate({ tab: key === "all" ? null : key, cursor: null, q: null, attention: null, order: null, page: null }); },
    }, name, " ", h("span", { class: "count", dataset: { count: key } }, String(counts[key] ?? 0)))));
    $("attention-count").textContent = "(" + (state.attentionCount ?? 0) + ")";
  }

  async function loadOrders() {
    const p = params();
    const tab = p.get("tab") || "all";
    $("search").value = p.get("q") || "";
    $("since").value = p.get("since") || "";
    $("until").value = p.get("until") || "";
    $("attention").checked = p.get("attention") === "1";
    const filtered = Boolean(p.get("q") || p.get("attention"));
    $("view-note").textContent = p.get("q") ? "Search results from every tab." : p.get("attention") ? "Orders that need you, from every tab." : "";
    const body = await api("GET", "/orders?" + viewQuery({ limit: "50" }).toString());
    state.rows = body.orders;
    state.counts = body.counts;
    state.attentionCount = body.attention_count;
    state.selected.clear();
    state.allMatching = false;
    renderTabs(body.counts, tab, filtered);
    $("rows").replaceChildren(...body.orders.map(renderRow));
    $("empty").hidden = body.orders.length > 0;
    $("next-page").hidden = !body.next_cursor;
    $("next-page").onclick = () => navigate({ cursor: body.next_cursor });
    $("first-page").hidden = !p.get("cursor");
    updateSelection();
  }

  function renderRow(row) {
    const items = h("ul", { class: "items" }, row.items.map((item) => h("li", {},
      item.image_url ? h("img", { src: item.image_url, alt: "", class: "thumb", width: 32, height: 32 }) : null,
      h("span", { class: "item-title" }, item.title || "item"),
      item.variant_title ? h("span", { class: "muted" }, " · " + item.variant_title) : null,
      h("span", { class: "qty" }, " × " + item.quantity))));
    const aeIds = h("div", { class: "ae" }, row.ae_order_ids.map((id) => h("div", {},
      external("https://www.aliexpress.com/p/order/detail.html?orderId=" + encodeURIComponent(id), id))));
    const tracking = h("div", { class: "tracking" }, row.tracking.map((t) => h("div", {},
      external(t.url || "https://t.17track.net/en#nums=" + encodeURIComponent(t.number), t.number),
      t.carrier ? h("span", { class: "muted" }, " " + t.carrier) : null)));
    const issues = h("div", { class: "issues" }, row.issues.map((issue) => h("div", { class: "issue " + issue.kind },
      h("p", {}, issue.text), actionButton(row, issue))));
    const check = h("input", {
      type: "checkbox", class: "pick", "aria-label": "Select " + row.name, disabled: !PLACEABLE.has(row.status),
      onchange: (event) => { if (event.target.checked) state.selected.add(row.order_id); else state.selected.delete(row.order_id); state.allMatching = false; updateSelection(); },
    });
    return h("tr", { dataset: { orderId: row.order_id, status: row.status } },
      h("td", { "data-label": "" }, check),
      h("td", { "data-label": "Order" }, h("a", { href: "#", class: "order-link", onclick: (e) => { e.preventDefault(); navigate({ order: row.order_id }); } }, row.name || row.order_id)),
      h("td", { "data-label": "Date" }, when(row.created_at)),
      h("td", { "data-label": "Customer" }, h("span", { class: "customer" }, row.customer.name || "–"), row.customer.country ? h("span", { class: "muted" }, " · " + row.customer.country) : null),
      h("td", { "data-label": "Items" }, items),
      h("td", { "data-label": "AliExpress" }, aeIds),
      h("td", { "data-label": "Status" }, h("span", { class: "badge " + (TONE[row.status] || "neutral") }, TAB_NAME[row.status] || row.status)),
      h("td", { "data-label": "Tracking" }, tracking),
      h("td", { "data-label": "Needs you" }, issues));
  }

  function actionButton(row, issue) {
    if (!issue.action || issue.action === "none") return null;
    const label = ACTION_LABEL[issue.action] || issue.action;
    if (issue.action === "pay" || issue.action === "cancel_on_aliexpress") {
      const id = row.ae_order_ids[0];
      return id ? external("https://www.aliexpress.com/p/order/detail.html?orderId=" + encodeURIComponent(id), label) : null;
    }
    const handlers = {
      retry: () => retry(row.order_id), reconnect, fulfill: () => fulfillDialog(row),
      link: () => linkDialog(row, issue.variant_ids), sync: () => syncOrder(row.order_id),
    };
    return h("button", { type: "button", class: "action", dataset: { action: issue.action }, onclick: handlers[issue.action] }, label);
  }

  function updateSelection() {
    const tab = params().get("tab") || "all";
    const placeable = state.rows.filter((r) => PLACEABLE.has(r.status));
    const plainTab = tab === "awaiting_order" && !params().get("q") && !params().get("attention") && !params().get("since") && !params().get("until");
    const total = state.counts.awaiting_order || 0;
    const all = $("select-all-matching");
    all.hidden = !(plainTab && total > placeable.length && placeable.length > 0 && state.selected.size === placeable.length);
    all.textContent = state.allMatching ? "Select only this page" : "Select all " + total + " orders in Awaiting Order";
    $("selection-text").textContent = state.allMatching
      ? "All " + total + " orders in Awaiting Order are selected."
      : state.selected.size ? state.selected.size + " selected on this page." : "";
    $("place-selected").disabled = !state.allMatching && state.selected.size === 0;
    $("select-page").checked = placeable.length > 0 && state.selected.size === placeable.length;
    for (const box of document.querySelectorAll("#rows tr")) {
      box.querySelector("input.pick").checked = state.allMatching ? !box.querySelector("input.pick").disabled : state.selected.has(box.dataset.orderId);
    }
  }

  async function placeSelected() {
    const ids = [...state.selected];
    const button = $("place-selected");
    button.disabled = true;
    try {
      const report = await api("POST", "/orders/place", state.allMatching ? { all: true } : { order_ids: ids });
      showResults(report.results);
    } catch (error) {
      notice(error.message, "critical");
    }
    await loadOrders();
  }

  function showResults(results) {
    const box = $("results");
    const words = { placed: "Placed", queued: "Queued", failed: "Failed", skipped: "Skipped", already_placed: "Already placed" };
    box.replaceChildren(h("h2", {}, "Placement results"), h("ul", {}, results.map((r) => h("li", { class: "result " + r.outcome, dataset: { orderId: r.order_id, outcome: r.outcome } },
      h("strong", {}, (rowName(r.order_id)) + ": " + (words[r.outcome] || r.outcome)),
      r.ae_order_ids && r.ae_order_ids.length ? " — AliExpress order " + r.ae_order_ids.join(", ") : "",
      r.reason ? " — " + r.reason : ""))),
      h("button", { type: "button", class: "link", onclick: () => { box.hidden = true; } }, "Dismiss"));
    box.hidden = false;
  }

  function rowName(orderId) {
    const row = state.rows.find((r) => r.order_id === orderId);
    return row ? row.name : orderId;
  }

  async function retry(orderId) {
    try {
      await api("POST", "/orders/" + encodeURIComponent(orderId) + "/retry");
      notice("The order is back in Awaiting Order.", "success");
    } catch (error) { notice(error.message, "critical"); }
    await route();
  }

  async function syncOrder(orderId) {
    try {
      const answer = await api("POST", "/orders/" + encodeURIComponent(orderId) + "/sync");
      notice("Synced: " + answer.sync.outcome.replaceAll("_", " ") + (answer.sync.error ? " — " + answer.sync.error : ""), answer.sync.failed ? "warning" : "success");
    } catch (error) {
      notice(error.status === 429 ? error.message + " (try again in " + (error.body.retry_after || "a few") + " s)" : error.message, error.status === 429 ? "warning" : "critical");
    }
    await route();
  }

  async function exportCsv() {
    try {
      const response = await api("GET", "/orders.csv?" + viewQuery({ cursor: null }).toString(), undefined, true);
      const blob = await response.blob();
      const link = h("a", { download: "orders-" + state.session.shop + "-" + (params().get("tab") || "all") + ".csv" });
      link.href = URL.createObjectURL(blob);
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      const rows = response.headers.get("X-Export-Rows");
      notice("Exported " + rows + " orders" + (response.headers.get("X-Export-Truncated") === "true" ? " (the first 5,000: narrow the view for the rest)" : "") + ".", "success");
    } catch (error) { notice(error.message, "critical"); }
  }

  // ------------------------------------------------------------------ dialogs: fulfill by hand, link a variant

  function dialog(title, fields, submit) {
    const box = $("dialog");
    $("dialog-title").textContent = title;
    $("dialog-error").textContent = "";
    $("dialog-body").replaceChildren(...fields.map((f) => h("label", {}, f.label, " ",
      h("input", { id: "dlg-" + f.name, name: f.name, value: f.value || "", required: f.required, placeholder: f.placeholder || "" }))));
    const form = $("dialog-form");
    form.onsubmit = async (event) => {
      event.preventDefault();
      const values = Object.fromEntries(fields.map((f) => [f.name, $("dlg-" + f.name).value.trim()]));
      try {
        await submit(values);
        box.close();
        await route();
      } catch (error) {
        $("dialog-error").textContent = error.message;
      }
    };
    $("dialog-cancel").onclick = () => box.close();
    box.showModal();
  }

  function fulfillDialog(row) {
    dialog("Fulfill " + (row.name || row.order_id) + " by hand", [
      { name: "tracking_number", label: "Tracking number", required: true },
      { name: "carrier", label: "Carrier", required: true, placeholder: "e.g. USPS" },
      { name: "tracking_url", label: "Tracking link (optional)", placeholder: "https://…" },
    ], async (values) => {
      const body = { tracking_number: values.tracking_number, carrier: values.carrier };
      if (values.tracking_url) body.tracking_url = values.tracking_url;
      await api("POST", "/orders/" + encodeURIComponent(row.order_id) + "/fulfill", body);
      notice("Tracking " + values.tracking_number + " added; it goes to ShopBase now.", "success");
    });
  }

  function linkDialog(row, variantIds) {
    const variant = (variantIds && variantIds[0]) || "";
    dialog("Link a variant of " + (row.name || row.order_id), [
      { name: "variant_id", label: "Store variant id", required: true, value: variant },
      { name: "product_id", label: "AliExpress product id", required: true },
      { name: "sku_attr", label: "AliExpress SKU (sku_attr, empty for a single SKU)" },
    ], async (values) => {
      await api("PUT", "/links/" + encodeURIComponent(values.variant_id), { product_id: values.product_id, sku_attr: values.sku_attr });
      notice("Variant " + values.variant_id + " linked: retry the order to place it.", "success");
    });
  }

  // ------------------------------------------------------------------ one order

  async function loadOrder(orderId) {
    const view = await api("GET", "/orders/" + encodeURIComponent(orderId) + "/view");
    const o = view.order;
    const row = view.row;
    const linkOf = Object.fromEntries(view.links.map((l) => [l.line_item_id, l]));
    const address = o.shipping_address || {};
    const actions = h("div", { class: "actions" },
      h("button", { type: "button", id: "detail-sync", onclick: () => syncOrder(o.order_id) }, "Sync now"),
      ["awaiting_order", "awaiting_payment", "awaiting_shipment", "failed"].includes(o.status)
        ? h("button", { type: "button", id: "detail-fulfill", onclick: () => fulfillDialog(row) }, "Fulfill by hand") : null,
      o.status === "failed" ? h("button", { type: "button", id: "detail-retry", onclick: () => retry(o.order_id) }, "Retry") : null);
    $("order-view").replaceChildren(h("div", {},
      h("p", {}, h("a", { href: "#", id: "back", onclick: (e) => { e.preventDefault(); navigate({ order: null }); } }, "← Back to orders")),
      h("div", { class: "title-row" }, h("h1", {}, "Order " + (o.name || o.order_id)),
        h("span", { class: "badge " + (TONE[o.status] || "neutral"), id: "detail-status" }, TAB_NAME[o.status] || o.status)),
      row.issues.length ? h("div", { class: "issues card" }, row.issues.map((i) => h("div", { class: "issue " + i.kind }, h("p", {}, i.text), actionButton(row, i)))) : null,
      actions,
      h("div", { class: "detail-grid" },
        h("section", { class: "card" }, h("h2", {}, "Customer"),
          h("p", { class: "customer" }, [o.customer.first_name, o.customer.last_name].filter(Boolean).join(" ") || "–"),
          h("p", {}, o.customer.email || ""),
          h("p", { class: "muted" }, [address.address1, address.address2, address.city, address.province, address.zip, address.country].filter(Boolean).join(", "))),
        h("section", { class: "card" }, h("h2", {}, "Items"), h("table", { class: "plain" },
          h("thead", {}, h("tr", {}, h("th", {}, "Item"), h("th", {}, "Qty"), h("th", {}, "AliExpress product / SKU"))),
          h("tbody", { id: "detail-items" }, o.line_items.map((li) => {
            const link = linkOf[li.id] || {};
            return h("tr", {}, h("td", {}, li.title, li.variant_title ? h("span", { class: "muted" }, " · " + li.variant_title) : null,
              h("div", { class: "muted small" }, "variant " + (li.variant_id || "–"))),
              h("td", {}, String(li.quantity)),
              h("td", {}, link.product_id ? [external("https://www.aliexpress.com/item/" + encodeURIComponent(link.product_id) + ".html", link.product_title || link.product_id),
                h("div", { class: "muted small" }, "SKU " + (link.sku_attr || link.sku_id || "single"))] : h("span", { class: "muted" }, "not linked")));
          })))),
        h("section", { class: "card" }, h("h2", {}, "AliExpress orders"), o.ae_orders.length ? h("ul", {}, o.ae_orders.map((ae) => h("li", {},
          external("https://www.aliexpress.com/p/order/detail.html?orderId=" + encodeURIComponent(ae.ae_order_id), ae.ae_order_id),
          h("span", { class: "muted" }, " " + ae.order_status + (ae.logistics_status ? " · " + ae.logistics_status : ""))))) : h("p", { class: "muted" }, "Not placed yet.")),
        h("section", { class: "card" }, h("h2", {}, "Packages"), o.packages.length ? h("ul", { id: "detail-packages" }, o.packages.map((p) => h("li", {},
          external(p.tracking_url || "https://t.17track.net/en#nums=" + encodeURIComponent(p.tracking_number), p.tracking_number),
          h("span", { class: "muted" }, " " + (p.carrier || "") + (p.source === "manual" ? " · by hand" : "") + (p.pushed_at ? " · on ShopBase " + when(p.pushed_at) : " · not on ShopBase yet") + (p.push_error ? " · " + p.push_error : ""))))) : h("p", { class: "muted" }, "No package yet.")),
        h("section", { class: "card" }, h("h2", {}, "Emails sent"), view.emails.length ? h("ul", {}, view.emails.map((e) => h("li", {},
          "Tracking " + e.tracking_number + ": " + (e.sent_at ? "sent " + when(e.sent_at) : "not sent — " + (e.error || ""))))) : h("p", { class: "muted" }, "None yet.")),
        h("section", { class: "card" }, h("h2", {}, "History"), h("ol", { class: "timeline", id: "timeline" }, o.history.map((c) => h("li", {},
          h("span", { class: "when" }, when(c.at)), " ", (c.from_status ? TAB_NAME[c.from_status] + " → " : "") + TAB_NAME[c.to_status],
          h("span", { class: "muted" }, " (" + c.cause.replaceAll("_", " ") + ")"))))))));
  }

  // ------------------------------------------------------------------ settings

  async function loadSettings() {
    const s = await api("GET", "/settings");
    const c = state.overview && state.overview.connection;
    $("settings-connection").textContent = !c ? "" : c.state === "disconnected" ? "Disconnected: " + (c.problem || "")
      : "Connected" + (c.expires_at ? ", until " + when(c.expires_at) + " (AliExpress asks again every 30 days)" : "") + ".";
    $("set-auto-place").checked = s.auto_place;
    for (const radio of document.querySelectorAll('input[name="channel"]')) radio.checked = radio.value === s.tracking_channel;
    $("set-sender").value = s.sender_email || "";
    $("set-shipping").value = s.default_shipping_service || "";
    $("settings-error").textContent = "";
  }

  async function saveSettings(event) {
    event.preventDefault();
    const channel = (document.querySelector('input[name="channel"]:checked') || {}).value || "ours";
    const patch = {
      auto_place: $("set-auto-place").checked,
      send_tracking_email: channel === "ours" || channel === "both",
      notify_customer: channel === "shopbase" || channel === "both",
      both_channels: channel === "both",
    };
    if ($("set-sender").value.trim()) patch.sender_email = $("set-sender").value.trim();
    if ($("set-shipping").value.trim()) patch.default_shipping_service = $("set-shipping").value.trim();
    try {
      await api("PATCH", "/settings", patch);
      notice("Settings saved.", "success");
      await loadSettings();
    } catch (error) { $("settings-error").textContent = error.message; }
  }

  // ------------------------------------------------------------------ start

  function start() {
    state.session = loadSession();
    const shopInUrl = params().get("shop");
    if (state.session && shopInUrl && shopInUrl !== state.session.shop) state.session = null;
    if (shopInUrl) $("sign-in-shop").value = shopInUrl;
    $("sign-in-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const shop = $("sign-in-shop").value.trim().toLowerCase();
      const token = $("sign-in-token").value.trim();
      state.session = { shop, token };
      $("sign-in-token").value = "";
      api("GET", "/overview").then(() => {
        sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
        navigate({ shop }, true);
      }).catch((error) => {
        state.session = null;
        $("sign-in-error").textContent = error.status === 401 ? "That shop and token do not match." : error.message;
      });
    });
    $("sign-out").addEventListener("click", () => signOut(""));
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      const q = $("search").value.trim();
      const attention = $("attention").checked;
      // A search or "needs attention" covers every tab (each has its own index); dates narrow a tab.
      navigate({ q, attention: !q && attention ? "1" : null, since: q || attention ? null : $("since").value,
        until: q || attention ? null : $("until").value, tab: q || attention ? null : params().get("tab"), cursor: null });
    });
    $("clear-filters").addEventListener("click", () => navigate({ q: null, since: null, until: null, attention: null, cursor: null }));
    $("select-page").addEventListener("change", (event) => {
      state.allMatching = false;
      state.selected = new Set(event.target.checked ? state.rows.filter((r) => PLACEABLE.has(r.status)).map((r) => r.order_id) : []);
      updateSelection();
    });
    $("select-all-matching").addEventListener("click", () => { state.allMatching = !state.allMatching; updateSelection(); });
    $("place-selected").addEventListener("click", placeSelected);
    $("export-csv").addEventListener("click", exportCsv);
    $("sync-shop").addEventListener("click", syncShop);
    $("settings-reconnect").addEventListener("click", reconnect);
    $("first-page").addEventListener("click", () => navigate({ cursor: null }));
    $("nav-orders").addEventListener("click", (e) => { e.preventDefault(); navigate({ page: null, order: null }); });
    $("nav-settings").addEventListener("click", (e) => { e.preventDefault(); navigate({ page: "settings", order: null }); });
    $("settings-form").addEventListener("submit", saveSettings);
    window.addEventListener("popstate", route);
    route();
  }

  start();
})();
