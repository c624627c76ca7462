// Settle dashboard: one page, vanilla JS, served by the node it shows.
//
// Reads the node through its own JSON-RPC (POST /, batches) and WebSocket
// (/ws, subscribed to "blocks" with tx hashes).  Every figure on screen is
// an RPC answer formatted here: amounts and prices with their asset's
// decimals (exact: integers beyond 2^53 are parsed as BigInt), ppm as
// percent.  The page computes no rule of the chain; its only state is what
// it has seen since it was opened (recent blocks, prices, the event feed).
// Nothing is fetched from another host and no HTML is built from strings.
"use strict";

const KEEP_BLOCKS = 30;      // rows of the latest-blocks table
const HISTORY_BLOCKS = 300;  // blocks whose events are read when the page opens (price history, feed)
const FULL_BLOCK_TXS = 200;  // a new block with at most this many txs is read in full (recent transactions)
const KEEP_PRICES = 500;     // points per market chart
const KEEP_FEED = 200;       // rows of the liquidation feed
const KEEP_TXS = 200;        // recent transactions remembered
const FEED_KINDS = new Set(["liquidation", "liquidation_paused", "insurance_payment", "adl", "adl_to_fund",
  "adl_uncovered", "social_loss", "fund_deleverage", "collateral_sale"]);

const S = {
  status: null, decimals: {}, names: {}, byName: {}, validators: [], peers: [], markets: [], fund: [],
  blocks: [], prices: {}, funding: {}, feed: [], txs: [], seenHeight: 0, notified: {}, pendingTx: null,
};

// ------------------------------------------------------------------ RPC

function parseJSON(text) {
  // Exact integers: a number JSON.parse would round is read from its source text as a BigInt.
  return JSON.parse(text, (key, value, ctx) =>
    (typeof value === "number" && !Number.isSafeInteger(value) && ctx && /^-?\d+$/.test(ctx.source))
      ? BigInt(ctx.source) : value);
}

let rpcId = 0;
const BATCH = 200;  // calls per request: under any sensible rpc.max_batch

async function rpcBatch(calls) {
  // One answer ({ok, result} or {ok: false, error}) per call, in order; sent BATCH calls per request.
  const out = [];
  for (let i = 0; i < calls.length; i += BATCH) out.push(...await rpcChunk(calls.slice(i, i + BATCH)));
  return out;
}

async function rpcChunk(calls) {
  const body = calls.map(([method, params]) => ({ jsonrpc: "2.0", id: ++rpcId, method, params: params || {} }));
  const resp = await fetch("/", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answers = parseJSON(await resp.text());
  const byId = new Map(answers.map(a => [a.id, a]));
  return body.map(req => {
    const a = byId.get(req.id);
    return a && "result" in a ? { ok: true, result: a.result } : { ok: false, error: a ? a.error : { message: "no answer" } };
  });
}

async function rpc(method, params) {
  const [a] = await rpcBatch([[method, params]]);
  if (!a.ok) throw new Error(a.error.message);
  return a.result;
}

// ------------------------------------------------------------------ formatting

function big(v) { return typeof v === "bigint" ? v : BigInt(v); }

function units(v, decimals) {
  // An integer amount in base units as a decimal with the asset's decimals (exact).
  if (v === null || v === undefined) return "–";
  let n = big(v);
  const neg = n < 0n;
  if (neg) n = -n;
  const scale = 10n ** BigInt(decimals || 0);
  const whole = (n / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const frac = decimals ? "." + (n % scale).toString().padStart(decimals, "0") : "";
  return (neg ? "-" : "") + whole + frac;
}

function amount(v, asset) { return units(v, S.decimals[asset] ?? 0); }
function count(v) { return v === null || v === undefined ? "–" : units(v, 0); }
function ppm(v, digits = 2) { return v === null || v === undefined ? "–" : (Number(v) / 10000).toFixed(digits) + "%"; }
function utc(ms) { return ms ? new Date(Number(ms)).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "–"; }
function clock(ms) { return ms ? new Date(Number(ms)).toISOString().slice(11, 19) : "–"; }
function short(hex) { return hex && hex.length > 16 ? hex.slice(0, 10) + "…" + hex.slice(-6) : hex; }
function quoteOf(market) { const m = S.markets.find(x => x.market === market); return m ? m.quote : null; }
function price(v, market) { return amount(v, quoteOf(market)); }

// ------------------------------------------------------------------ DOM

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function addr(a) {
  if (!a) return h("span", { class: "muted" }, "–");
  const name = S.names[a];
  return h("a", { href: "#/account/" + a, class: name ? null : "mono", title: a }, name || short(a));
}
function txLink(hash) { return h("a", { href: "#/tx/" + hash, class: "mono", title: hash }, short(hash)); }
function blockLink(height) { return h("a", { href: "#/block/" + height }, count(height)); }
function num(text, cls) { return h("td", { class: "num" + (cls ? " " + cls : "") }, text); }
function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty || "none");
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, headers.map(x => h("th", { class: x.endsWith(" ") ? "num" : null }, x.trim())))),
    h("tbody", {}, rows)));
}
function panel(title, ...body) { return h("section", { class: "panel" }, h("h2", {}, title), ...body); }
function card(label, value, id) { return h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value", id }, value)); }
function kv(pairs) { return h("dl", { class: "kv" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])); }

function chart(points, fmt, tip) {
  // An SVG step line of [x, y] points (x: block height) up to height tip, with the y range and the x range labelled.
  const W = 640, H = 200, L = 90, B = 20, T = 8;
  const svg = (tag, a) => { const el = document.createElementNS("http://www.w3.org/2000/svg", tag); for (const k in a) el.setAttribute(k, a[k]); return el; };
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  if (points.length < 1) { const t = svg("text", { x: L, y: H / 2 }); t.textContent = "no prices yet"; root.append(t); return root; }
  const xs = points.map(p => Number(p[0])), ys = points.map(p => Number(p[1]));
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(Number(tip || 0), ...xs), Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) x1 = x0 + 1;
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - 8), Y = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  for (const [y, label] of [[y1, points.reduce((a, p) => Number(p[1]) === y1 ? p[1] : a, y1)], [y0, points.reduce((a, p) => Number(p[1]) === y0 ? p[1] : a, y0)]]) {
    root.append(svg("line", { x1: L, x2: W - 8, y1: Y(y), y2: Y(y), class: "gridline" }));
    const t = svg("text", { x: L - 6, y: Y(y) + 4, "text-anchor": "end" }); t.textContent = fmt(label); root.append(t);
  }
  const step = points.length === 1 ? [[x0, ys[0]], [x1, ys[0]]] : [];
  let d = "";
  points.forEach((p, i) => { // a step line: the price holds until the next report
    d += (i ? ` H${X(xs[i]).toFixed(1)} V${Y(ys[i]).toFixed(1)}` : `M${X(xs[i]).toFixed(1)} ${Y(ys[i]).toFixed(1)}`);
  });
  if (step.length) d = `M${X(step[0][0])} ${Y(step[0][1])} H${X(step[1][0])}`;
  else d += ` H${X(x1).toFixed(1)}`;
  root.append(svg("path", { d, class: "line" }));
  for (const [x, anchor] of [[x0, "start"], [x1, "end"]]) {
    const t = svg("text", { x: X(x), y: H - 4, "text-anchor": anchor }); t.textContent = "h " + x; root.append(t);
  }
  return root;
}

// ------------------------------------------------------------------ data

function notePrice(market, height, value) {
  const pts = (S.prices[market] = S.prices[market] || []);
  const last = pts[pts.length - 1];
  if (last && Number(last[0]) >= Number(height)) { if (Number(last[0]) === Number(height)) last[1] = value; return; }
  pts.push([height, value]);
  if (pts.length > KEEP_PRICES) pts.shift();
}

function noteEvents(answer) {
  for (const e of answer.events) {
    const ev = { ...e, height: answer.height };
    if (e.kind === "oracle_price") notePrice(e.market, answer.height, e.price);
    if (e.kind === "funding") (S.funding[e.market] = S.funding[e.market] || []).unshift(ev);
    if (FEED_KINDS.has(e.kind)) { S.feed.unshift(ev); if (S.feed.length > KEEP_FEED) S.feed.pop(); }
  }
}

function noteTxs(block) {
  block.txs.forEach((t, i) => S.txs.unshift({ ...t, height: block.header.height, index: i, time_ms: block.header.time_ms }));
  S.txs.splice(KEEP_TXS);
}

function commitPower(cert) {
  const power = Object.fromEntries(S.validators.map(v => [v.address, Number(v.power)]));
  const total = S.validators.reduce((a, v) => a + Number(v.power), 0);
  const signed = cert.signatures.reduce((a, s) => a + (power[s.validator] || 0), 0);
  return { signed, total };
}

async function loadStatic() {
  const [status, genesis, assets, validators] = await rpcBatch([["status"], ["genesis"], ["assets"], ["validators"]]);
  S.status = status.result;
  for (const a of assets.result || []) S.decimals[a.symbol] = a.decimals;
  for (const a of (genesis.result && genesis.result.accounts) || []) if (a.name) { S.names[a.address] = a.name; S.byName[a.name] = a.address; }
  S.validators = validators.result || [];
  const vnames = Object.fromEntries(((genesis.result && genesis.result.validators) || []).map(v => [v.pubkey, v.name]));
  for (const v of S.validators) if (vnames[v.pubkey] && !S.names[v.address]) { S.names[v.address] = vnames[v.pubkey]; S.byName[vnames[v.pubkey]] = v.address; }
  document.getElementById("chain-id").textContent = S.status.chain_id;
  setHeight(S.status.height);
  // History: the last blocks' headers and commits, and the events of the last HISTORY_BLOCKS blocks.
  const tip = Number(S.status.height);
  const from = Math.max(1, tip - HISTORY_BLOCKS + 1), calls = [];
  for (let hgt = from; hgt <= tip; hgt++) calls.push(["events", { height: hgt }]);
  const recent = [];
  for (let hgt = Math.max(1, tip - KEEP_BLOCKS + 1); hgt <= tip; hgt++) recent.push(hgt);
  for (const hgt of recent) calls.push(["block", { height: hgt }], ["commit", { height: hgt }]);
  calls.push(["markets"], ["insurance_fund"], ["peers"]);
  const out = await rpcBatch(calls);
  const evs = out.slice(0, tip - from + 1);
  const blocks = out.slice(tip - from + 1, tip - from + 1 + recent.length * 2);
  const [markets, fund, peers] = out.slice(-3);
  S.markets = markets.result || []; S.fund = fund.result || []; S.peers = peers.ok ? peers.result : [];
  for (const e of evs) if (e.ok) noteEvents(e.result);
  for (let i = 0; i < blocks.length; i += 2) if (blocks[i].ok) addBlock(blocks[i].result, blocks[i + 1].ok ? blocks[i + 1].result.certificate : null);
  for (const m of S.markets) if (m.price !== null && m.price_height) notePrice(m.market, m.price_height, m.price);
  S.seenHeight = tip;
}

function addBlock(block, cert) {
  const hd = block.header;
  if (S.blocks.some(b => b.height === hd.height)) return;
  S.blocks.unshift({ height: hd.height, time_ms: hd.time_ms, num_txs: block.num_txs, proposer: hd.proposer, id: hd.id,
    power: cert ? commitPower(cert) : null });
  S.blocks.sort((a, b) => Number(b.height) - Number(a.height));
  S.blocks.splice(KEEP_BLOCKS);
  if (block.txs) noteTxs(block);
}

function setHeight(height) { document.getElementById("height").textContent = count(height); }

let refreshing = false, again = false;
async function refresh() {
  // Catch up from the last height read to the tip: blocks, commits, events; then markets, fund, peers and the open view.
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    do {
      again = false;
      const st = await rpc("status");
      S.status = st;
      setHeight(st.height);
      const tip = Number(st.height), from = Math.max(S.seenHeight + 1, tip - HISTORY_BLOCKS + 1);
      const calls = [];
      for (let hgt = from; hgt <= tip; hgt++) {
        // A big block's transactions are not read (its header came with the WebSocket notice).
        const big = S.notified[hgt] && S.notified[hgt].num_txs > FULL_BLOCK_TXS;
        calls.push(["events", { height: hgt }], big ? ["status"] : ["block", { height: hgt }], ["commit", { height: hgt }]);
      }
      calls.push(["validators"], ["markets"], ["insurance_fund"], ["peers"]);
      const out = await rpcBatch(calls);
      const [validators, markets, fund, peers] = out.slice(-4);
      if (validators.ok) S.validators = validators.result;  // before the commits' power is summed
      for (let i = 0, hgt = from; i + 3 <= out.length - 4; i += 3, hgt++) {
        if (out[i].ok) noteEvents(out[i].result);
        const block = calls[i + 1][0] === "block" ? (out[i + 1].ok ? out[i + 1].result : null) : S.notified[hgt];
        if (block) addBlock(block, out[i + 2].ok ? out[i + 2].result.certificate : null);
      }
      for (const k of Object.keys(S.notified)) if (Number(k) <= tip) delete S.notified[k];
      if (markets.ok) S.markets = markets.result;
      if (fund.ok) S.fund = fund.result;
      if (peers.ok) S.peers = peers.result;
      for (const m of S.markets) if (m.price !== null && m.price_height) notePrice(m.market, m.price_height, m.price);
      S.seenHeight = Math.max(S.seenHeight, tip);
      if (document.getElementById("notice").textContent.startsWith("refresh failed")) notice("");
      await render(false);
    } while (again);
  } catch (err) {
    notice("refresh failed: " + err.message);
  } finally {
    refreshing = false;
  }
}

// ------------------------------------------------------------------ live feed

function connect() {
  const conn = document.getElementById("conn");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  ws.onopen = () => {
    conn.dataset.state = "live"; conn.textContent = "live";
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "subscribe", params: { topic: "blocks", tx_hashes: true } }));
    refresh();
  };
  ws.onmessage = msg => {
    const m = parseJSON(msg.data);
    if (m.method === "block") { S.notified[m.params.header.height] = m.params; setHeight(m.params.header.height); refresh(); }
  };
  ws.onclose = () => { conn.dataset.state = "down"; conn.textContent = "reconnecting"; setTimeout(connect, 2000); };
}

function notice(text) {
  const el = document.getElementById("notice");
  el.hidden = !text; el.textContent = text || "";
}

// ------------------------------------------------------------------ views

function overview() {
  const st = S.status, fundRows = S.fund.map(f => h("tr", {},
    h("td", {}, f.asset), num(amount(f.cash, f.asset)), num(amount(f.equity, f.asset)), num(amount(f.available, f.asset)),
    num(amount(f.mmr, f.asset)), h("td", {}, f.positions.map(p => `${p.market} ${count(p.size)}`).join(", ") || "–")));
  const total = S.validators.reduce((a, v) => a + Number(v.power), 0);
  return [
    h("div", { class: "cards" },
      card("Height", count(st.height), "card-height"), card("Last block", clock(st.latest_block_time_ms) + " UTC"),
      card("Validators", count(st.validators)), card("Peers", count(st.peers)), card("Mempool", count(st.mempool_size)),
      card("Moniker", st.moniker)),
    h("div", { class: "split" },
      panel("Latest blocks", table(["Height", "Time (UTC)", "Txs ", "Proposer", "Commit power "], S.blocks.map(b => h("tr", {},
        h("td", {}, blockLink(b.height)), h("td", {}, clock(b.time_ms)), num(count(b.num_txs)), h("td", {}, addr(b.proposer)),
        num(b.power ? `${b.power.signed}/${b.power.total} (${(100 * b.power.signed / b.power.total).toFixed(0)}%)` : "–"))), "no blocks yet")),
      h("div", {},
        panel("Validators", table(["Validator", "Address", "Power ", "Share"], S.validators.map(v => {
          const bar = h("span"); bar.style.width = (100 * Number(v.power) / total).toFixed(1) + "%";
          return h("tr", {}, h("td", {}, S.names[v.address] || "–"), h("td", {}, h("a", { href: "#/account/" + v.address, class: "mono" }, short(v.address))),
            num(count(v.power)), h("td", {}, h("div", { class: "bar", title: (100 * Number(v.power) / total).toFixed(1) + "%" }, bar)));
        }))),
        panel("Peers", table(["Peer id"], S.peers.map(p => h("tr", {}, h("td", { class: "mono" }, p.id))), "no peers (a single node)")),
        panel("Insurance fund", table(["Asset", "Cash ", "Equity ", "Available ", "MMR ", "Positions"], fundRows, "no insurance fund yet")),
        panel("Recent transactions", table(["Tx", "Height ", "Kind", "Sender"], S.txs.slice(0, 10).map(t => h("tr", {},
          h("td", {}, txLink(t.hash)), num(blockLink(t.height)), h("td", {}, t.kind), h("td", {}, addr(t.sender)))), `none in the last ${KEEP_BLOCKS} blocks`)))),
  ];
}

function marketsView() {
  if (!S.markets.length) return [panel("Markets", h("p", { class: "empty" }, "no market registered"))];
  return [h("div", { class: "stack" }, S.markets.map(m => {
    const funding = (S.funding[m.market] || []).slice(0, 8);
    return panel(m.market, h("div", { class: "split" }, h("div", {},
      kv([
        ["Oracle price", h("span", { class: "price", "data-market": m.market }, `${price(m.price, m.market)} ${m.quote} per lot`,
          m.stale ? h("span", { class: "tag bad" }, " stale") : null)],
        ["Lot", `${amount(m.params.lot_size, m.base)} ${m.base}`],  // prices and sizes are per lot (docs/risk-engine.md "Units")
        ["Price set at", m.price_height ? ["height ", blockLink(m.price_height), " · ", utc(m.price_time_ms)] : "–"],
        ["Open interest", `${count(m.open_interest)} lots`],
        ["Last funding rate", `${ppm(m.last_funding_rate_ppm, 4)} (at ${utc(m.last_funding_ms)})`],
        ["Funding index", String(m.funding_index)],
        ["Volatility · margin scale", `${ppm(m.volatility_ppm)} · ${ppm(m.margin_scale_ppm)}`],
        ["IMF · MMF", `${ppm(m.imf_ppm)} · ${ppm(m.mmf_ppm)}`],
        ["Last trade price", price(m.last_trade_price, m.market)],
        ["Uncovered bad debt", amount(m.uncovered_bad_debt, m.quote)],
      ]),
      h("h3", {}, "Funding payments"),
      table(["Height ", "Rate ", "Premium ", "Interest ", "Price "], funding.map(f => h("tr", {},
        num(blockLink(f.height)), num(ppm(f.rate_ppm, 4)), num(ppm(f.premium_ppm, 4)), num(ppm(f.interest_ppm, 4)), num(price(f.price, f.market)))),
        "no funding payment seen")),
      h("div", {}, h("h3", {}, `Oracle price (${m.quote}) by block height: events of the last ${HISTORY_BLOCKS} blocks and since`),
        chart(S.prices[m.market] || [], v => price(v, m.market), S.status.height))));
  }))];
}

function feedDetails(e) {
  const asset = e.asset;
  const parts = [];
  if (e.closes) parts.push(e.closes.map(c => `${c.market} ${c.lots > 0 ? "+" : ""}${count(c.lots)} @ ${price(c.price, c.market)}`).join(", "));
  if (e.equity_before !== undefined) parts.push(`equity ${amount(e.equity_before, asset)} → ${amount(e.equity_after, asset)}`);
  if (e.mmr_before !== undefined) parts.push(`MMR ${amount(e.mmr_before, asset)} → ${amount(e.mmr_after, asset)}`);
  if (e.penalty !== undefined) parts.push(`penalty ${amount(e.penalty, asset)}`);
  if (e.amount !== undefined) parts.push(`amount ${amount(e.amount, asset)}`);
  if (e.lots !== undefined) parts.push(`${e.market} ${count(e.lots)} lots @ ${price(e.price, e.market)}`);
  if (e.kind === "liquidation_paused") parts.push(`equity ${amount(e.equity, asset)}, MMR ${amount(e.mmr, asset)}`);
  return parts.join(" · ");
}

function liquidationsView() {
  const cls = k => k === "liquidation" ? "bad" : k.startsWith("adl") || k === "social_loss" ? "warn" : "";
  return [panel("Liquidations, ADL and insurance fund payments",
    h("p", { class: "muted" }, `From the block-level events of every block since the page opened and the ${HISTORY_BLOCKS} before; newest first.`),
    table(["Height ", "Event", "Step", "Account", "Asset", "Details"], S.feed.map(e => h("tr", { class: "feed-row", "data-kind": e.kind }, num(blockLink(e.height)),
      h("td", {}, h("span", { class: "tag " + cls(e.kind) }, e.kind)), h("td", {}, e.step || ""),
      h("td", {}, addr(e.account || e.from || e.to)), h("td", {}, e.asset || e.market || ""), h("td", { class: "wrap" }, feedDetails(e)))),
      "no liquidation or ADL seen"))];
}

async function accountView(address) {
  if (!address) return [panel("Account", h("p", { class: "empty" }, "Search for an address (st…) or a genesis account name."))];
  const [acct, margin, pm] = await rpcBatch([["account", { address }], ["account_margin", { address }], ["pm_scenarios", { address }]]);
  if (!acct.ok) return [panel("Account", h("p", { class: "bad" }, acct.error.message))];
  const a = acct.result;
  const balances = Object.keys(a.balances).sort().map(sym => h("tr", { "data-asset": sym }, h("td", {}, sym), num(amount(a.balances[sym], sym), "balance")));
  const out = [h("div", { class: "cards" },
    card("Account", S.names[address] || short(address)), card("Roles", a.roles.join(", ") || "–"),
    card("Nonce (next)", `${count(a.nonce)} (${count(a.next_nonce)})`), card("Margin mode", pm.ok ? pm.result.mode : "–", "margin-mode"))];
  const left = [panel("Balances", h("p", { class: "mono muted" }, address), table(["Asset", "Balance "], balances, "no balance"))];
  const mine = S.txs.filter(t => t.sender === address || (t.body && (t.body.to === address || t.body.taker === address)));
  left.push(panel("Recent transactions", table(["Tx", "Height ", "Kind", "From", "Details"], mine.slice(0, 20).map(t => h("tr", { "data-tx": t.hash },
    h("td", {}, txLink(t.hash)), num(blockLink(t.height)), h("td", {}, t.kind), h("td", {}, addr(t.sender)),
    h("td", {}, t.body && t.body.amount !== undefined && t.body.asset ? `${amount(t.body.amount, t.body.asset)} ${t.body.asset}` : ""))),
  "none in the blocks this page has read")));
  const right = [];
  for (const m of (margin.ok ? margin.result.accounts : [])) {
    const ratio = m.margin_ratio_ppm;
    right.push(panel(`Margin · ${m.asset}`,
      kv([
        ["Equity", amount(m.equity, m.asset)], ["Collateral", amount(m.collateral, m.asset)],
        ["Initial margin (IMR)", amount(m.imr, m.asset)], ["Maintenance margin (MMR)", amount(m.mmr, m.asset)],
        ["Free collateral", h("span", { class: Number(m.free_collateral) < 0 ? "bad" : null }, amount(m.free_collateral, m.asset))],
        ["Margin ratio (equity / MMR)", h("span", { class: m.breached ? "bad" : ratio !== null && Number(ratio) < 1500000 ? "warn" : "good", id: "margin-ratio" },
          ratio === null ? "no requirement" : ppm(ratio))],
        ["Distance to liquidation (equity − MMR)", h("span", { class: m.breached ? "bad" : null }, amount(m.liquidation_distance, m.asset))],
        ["Realized P&L", amount(m.realized_pnl, m.asset)],
      ]),
      h("h3", {}, "Positions"),
      table(["Market", "Size ", "Entry ", "Oracle ", "Notional ", "Unrealized P&L ", "Liquidation price "], m.positions.map(p => h("tr", {},
        h("td", {}, p.market, p.stale ? h("span", { class: "tag bad" }, " stale") : null), num(count(p.size)), num(price(p.entry_price, p.market)),
        num(price(p.oracle_price, p.market)), num(amount(p.notional, m.asset)),
        num(amount(p.unrealized_pnl, m.asset), Number(p.unrealized_pnl) < 0 ? "bad" : "good"), num(p.liquidation_price === null ? "–" : price(p.liquidation_price, p.market)))),
      "no open position")));
  }
  if (pm.ok && pm.result.mode !== "standard") {
    for (const acc of pm.result.accounts) {
      for (const u of acc.underlyings) {
        right.push(panel(`Portfolio margin · ${u.underlying} (${acc.asset})`,
          kv([["Binding scenario", u.binding === null ? "–" : String(u.binding)], ["Requirement", amount(u.requirement, acc.asset)], ["MMR", amount(u.mmr, acc.asset)]]),
          table(["Scenario", "Move ", "Price ", "Vol", "Extreme", "P&L "], u.scenarios.map(s => h("tr", { class: s.scenario === u.binding ? "warn binding" : "scenario" },
            h("td", {}, String(s.scenario)), num(price(s.move, u.underlying)), num(price(s.price, u.underlying)), h("td", {}, s.vol), h("td", {}, s.extreme ? "yes" : ""),
            num(amount(s.pnl, acc.asset), Number(s.pnl) < 0 ? "bad" : "good"))), "no scenario table")));
      }
    }
  } else if (pm.ok) {
    right.push(panel("Portfolio margin", h("p", { class: "muted" }, "Standard margin mode: no scenario table (set_margin_mode portfolio adds one).")));
  }
  if (!right.length) right.push(panel("Margin", h("p", { class: "empty" }, "no margin account")));
  out.push(h("div", { class: "split" }, h("div", {}, left), h("div", {}, right)));
  return out;
}

const MONEY = /^(amount|cash|fund_cash|penalty|pnl|fee|collateral|debt.*|equity.*|[im]mr.*)$/;  // in the event's asset
const PRICES = /^(price|mark_price|median|reference|entry_price)$/;  // in the event's market's quote asset

function eventField(e, k) {
  // An event attribute for people: addresses linked, money with its asset's decimals, prices with the quote's.
  const v = e[k];
  if (typeof v === "string" && /^st[0-9a-f]{40}$/.test(v)) return addr(v);
  if ((typeof v === "number" || typeof v === "bigint") && e.asset && MONEY.test(k)) return `${amount(v, e.asset)} ${e.asset}`;
  if ((typeof v === "number" || typeof v === "bigint") && e.market && quoteOf(e.market) && PRICES.test(k)) return `${price(v, e.market)} ${quoteOf(e.market)}`;
  if (v !== null && typeof v === "object") return JSON.stringify(v, (x, y) => typeof y === "bigint" ? y.toString() : y);
  return String(v);
}

async function txView(hash) {
  let t;
  try { t = await rpc("tx", { hash }); } catch (err) { return [panel("Transaction", h("p", { class: "bad" }, err.message))]; }
  S.pendingTx = t.status === "pending" ? hash : null;
  if (t.status === "pending") return [panel("Transaction " + short(hash), h("p", { id: "tx-status" }, "pending in the mempool"))];
  const r = t.receipt;
  return [h("div", { class: "grid" },
    panel("Transaction", kv([
      ["Hash", h("span", { class: "mono" }, t.hash)], ["Status", h("span", { class: r.ok ? "tag good" : "tag bad", id: "tx-status" }, r.ok ? "ok" : `failed: ${r.error}`)],
      ["Block", [blockLink(t.height), ` · index ${t.index}`]], ["Kind", t.tx.kind], ["Sender", addr(t.tx.sender)], ["Nonce", count(t.tx.nonce)],
      t.tx.body.amount !== undefined && t.tx.body.asset ? ["Amount", `${amount(t.tx.body.amount, t.tx.body.asset)} ${t.tx.body.asset}`] : null,
      t.tx.body.to ? ["To", addr(t.tx.body.to)] : null,
      ["Reason", r.reason || "–"], ["Code", String(r.code)],
    ]), h("h3", {}, "Body"), h("pre", { class: "mono" }, JSON.stringify(t.tx.body, (k, v) => typeof v === "bigint" ? v.toString() : v, 2))),
    panel("Receipt events", r.events.length ? r.events.map(e => h("div", {}, h("h3", {}, e.kind),
      kv(Object.keys(e).filter(k => k !== "kind").sort().map(k => [k, eventField(e, k)])))) : h("p", { class: "empty" }, "no events")))];
}

async function blockView(height) {
  let b, c, ev;
  try { [b, c, ev] = await Promise.all(["block", "commit", "events"].map(m => rpc(m, { height: Number(height), receipts: m === "block" || undefined }))); }
  catch (err) { return [panel("Block " + height, h("p", { class: "bad" }, err.message))]; }
  const hd = b.header, power = commitPower(c.certificate);
  return [h("div", { class: "grid" },
    panel("Block " + count(hd.height), kv([
      ["Time", utc(hd.time_ms)], ["Id", h("span", { class: "mono" }, hd.id)], ["Proposer", addr(hd.proposer)],
      ["Commit", `round ${c.certificate.round}, ${power.signed}/${power.total} power signed`], ["State root", h("span", { class: "mono" }, hd.state_root)],
      ["Previous", hd.height > 1 ? blockLink(hd.height - 1) : "genesis"],
    ])),
    panel("Transactions", table(["Tx", "Kind", "Sender", "Result"], b.txs.map((t, i) => h("tr", {}, h("td", {}, txLink(t.hash)), h("td", {}, t.kind), h("td", {}, addr(t.sender)),
      h("td", {}, b.receipts[i].ok ? h("span", { class: "good" }, "ok") : h("span", { class: "bad" }, b.receipts[i].error)))), "no transactions"),
      h("h3", {}, "Block events (prices, funding, liquidations)"),
      table(["Event", "Market / account", "Details"], ev.events.filter(e => e.block_level).map(e => h("tr", {}, h("td", {}, e.kind),
        h("td", {}, e.account ? addr(e.account) : e.market || ""), h("td", { class: "wrap" }, e.kind === "oracle_price" ? `${price(e.price, e.market)} (${e.reports} reports)` : feedDetails(e)))),
      "none")))];
}

// ------------------------------------------------------------------ routing

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  return { view: parts[0] || "overview", arg: parts[1] ? decodeURIComponent(parts[1]) : null };
}

const LIVE = { overview, markets: marketsView, liquidations: liquidationsView };
let renderSeq = 0;
async function render(navigated) {
  const r = route();
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === r.view);
  if (!S.status) return;
  // A block, or a committed tx, does not change: a new block re-draws only the live views, accounts and pending txs.
  if (!navigated && !LIVE[r.view] && r.view !== "account" && !(r.view === "tx" && S.pendingTx === r.arg)) return;
  const seq = ++renderSeq;
  let content;
  if (LIVE[r.view]) content = LIVE[r.view]();
  else if (r.view === "account") content = await accountView(r.arg);
  else if (r.view === "tx") content = await txView(r.arg);
  else if (r.view === "block") content = await blockView(r.arg);
  else content = [panel("Not found", h("p", {}, "no such page"))];
  if (seq !== renderSeq) return; // a newer render started meanwhile
  document.getElementById("view").replaceChildren(...content);
  document.body.dataset.view = r.view;
  document.body.dataset.height = String(S.status.height);
}

function search(text) {
  // A height, a tx hash, an address, or a genesis account / validator name.
  const q = text.trim();
  if (/^\d+$/.test(q)) return "#/block/" + q;
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(q)) return "#/tx/" + q.replace(/^0x/, "").toLowerCase();
  if (/^st[0-9a-fA-F]{40}$/.test(q)) return "#/account/" + q.toLowerCase();
  if (S.byName[q]) return "#/account/" + S.byName[q];
  return null;
}

function setTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme; else delete document.documentElement.dataset.theme;
}

async function main() {
  setTheme(localStorage.getItem("settle-theme"));
  document.getElementById("theme").addEventListener("click", () => {
    const dark = getComputedStyle(document.documentElement).colorScheme === "dark";
    const next = dark ? "light" : "dark";
    localStorage.setItem("settle-theme", next); setTheme(next);
  });
  document.getElementById("search").addEventListener("submit", ev => {
    ev.preventDefault();
    const input = document.getElementById("search-input"), target = search(input.value);
    if (target) { notice(""); location.hash = target; } else notice(`nothing matches "${input.value}": a height, a tx hash, an st… address or an account name`);
  });
  window.addEventListener("hashchange", () => render(true));
  try { await loadStatic(); } catch (err) { notice("cannot read the node: " + err.message); return; }
  await render(true);
  connect();
}

main();
