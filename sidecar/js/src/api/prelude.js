// PipyJS prelude: API classes whose work is plain logic, run once per engine.
// Native globals (Data, Message, algo.hash, ...) are installed before this runs.
(function (global) {
  'use strict';

  // ---- JSON.encode / JSON.decode: JSON to and from Data ----
  JSON.encode = function (value, replacer, space) {
    return new Data(JSON.stringify(value, replacer, space));
  };
  JSON.decode = function (data, reviver) {
    return JSON.parse(data.toString(), reviver);
  };

  // ---- URLSearchParams ----
  // As upstream: `+` is not a space (only %XX escapes are decoded), and
  // malformed escapes are kept as they are.
  var decodePart = global.__pipy_decode_uri;
  var encodePart = global.__pipy_encode_uri;
  delete global.__pipy_decode_uri;
  delete global.__pipy_encode_uri;
  class URLSearchParams {
    constructor(init) {
      // Internal state stays out of enumerations (and console output).
      Object.defineProperty(this, '_list', { value: [], writable: true, enumerable: false });
      if (typeof init === 'string') {
        var s = init.charAt(0) === '?' ? init.substring(1) : init;
        if (s.length > 0) {
          s.split('&').forEach(function (kv) {
            if (kv === '') return;
            var i = kv.indexOf('=');
            var k = i < 0 ? kv : kv.substring(0, i);
            var v = i < 0 ? '' : kv.substring(i + 1);
            this._list.push([decodePart(k), decodePart(v)]);
          }, this);
        }
      } else if (init && typeof init === 'object') {
        Object.keys(init).forEach(function (k) { this.set(k, init[k]); }, this);
      }
    }
    get(name) { for (var p of this._list) if (p[0] === name) return p[1]; return null; }
    getAll(name) { return this._list.filter(function (p) { return p[0] === name; }).map(function (p) { return p[1]; }); }
    has(name) { return this._list.some(function (p) { return p[0] === name; }); }
    // set(name, array) gives one entry per element; null or undefined removes
    // the name (upstream's rules).
    set(name, value) {
      name = String(name);
      var i = this._list.findIndex(function (p) { return p[0] === name; });
      var rest = this._list.filter(function (p) { return p[0] !== name; });
      if (value === undefined || value === null) { this._list = rest; return; }
      var values = Array.isArray(value) ? value.map(String) : [String(value)];
      var entries = values.map(function (v) { return [name, v]; });
      if (i < 0) i = rest.length;
      else i = this._list.slice(0, i).filter(function (p) { return p[0] !== name; }).length;
      rest.splice.apply(rest, [i, 0].concat(entries));
      this._list = rest;
    }
    append(name, value) { this._list.push([String(name), String(value)]); }
    delete(name) { this._list = this._list.filter(function (p) { return p[0] !== name; }); }
    toObject() {
      var o = {};
      for (var p of this._list) {
        if (!(p[0] in o)) o[p[0]] = p[1];
        else if (Array.isArray(o[p[0]])) o[p[0]].push(p[1]);
        else o[p[0]] = [o[p[0]], p[1]];
      }
      return o;
    }
    // Values of a name stay together, names in order of first appearance (as
    // upstream, which keeps one entry per name).
    toString() {
      var names = [];
      this._list.forEach(function (p) { if (names.indexOf(p[0]) < 0) names.push(p[0]); });
      var list = this._list;
      return names.map(function (n) {
        return list.filter(function (p) { return p[0] === n; }).map(function (p) {
          return encodePart(p[0]) + '=' + encodePart(p[1]);
        }).join('&');
      }).join('&');
    }
  }
  global.URLSearchParams = URLSearchParams;

  // ---- URL ----
  // As upstream: `port` is the scheme's default when the URL names none (and
  // `host` then has no port), a URL without a scheme is `http:`, and an empty
  // path is `/`.
  var DEFAULT_PORTS = { 'ftp:': '21', 'gopher:': '70', 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };
  var URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:)?(\/\/(?:([^:@\/?#]*)(?::([^@\/?#]*))?@)?(\[[^\]]*\]|[^:\/?#]*)(?::(\d*))?)?([^?#]*)(\?[^#]*)?(#.*)?$/;
  class URL {
    constructor(url, base) {
      url = String(url);
      if (base !== undefined && !/^([a-zA-Z][a-zA-Z0-9+.-]*:)?\/\//.test(url)) {
        var b = new URL(base);
        // As upstream: a relative URL (even `?q` or `#f`) goes after the last `/`
        // of the base's path; an empty one is the base's path and query.
        if (url.startsWith('/')) url = b.protocol + '//' + b._authority() + url;
        else if (url === '') url = b.protocol + '//' + b._authority() + b.pathname + b.search;
        else url = b.protocol + '//' + b._authority() + b.pathname.replace(/[^\/]*$/, '') + url;
      }
      var m = URL_RE.exec(url);
      if (!m) throw new TypeError('Invalid URL: ' + url);
      this.protocol = (m[1] || 'http:').toLowerCase();
      this.username = m[3] || '';
      this.password = m[4] || '';
      this.hostname = m[5] || '';
      Object.defineProperty(this, '_port', { value: m[6] || '', writable: true, enumerable: false });
      this.port = this._port || DEFAULT_PORTS[this.protocol] || '';
      this.pathname = m[7] || '/';
      this.search = m[8] && m[8].length > 1 ? m[8] : '';
      this.hash = m[9] && m[9].length > 1 ? m[9] : '';
      this.searchParams = new URLSearchParams(this.search);
    }
    _authority() { return (this.auth ? this.auth + '@' : '') + this.host; }
    get host() { return this._port ? this.hostname + ':' + this._port : this.hostname; }
    get origin() { return this.protocol + '//' + this.host; }
    get auth() { return this.username ? (this.password ? this.username + ':' + this.password : this.username) : ''; }
    get path() { return this.pathname + this.search; }
    get query() { return this.search.substring(1); }
    get href() { return this.protocol + '//' + this._authority() + this.pathname + this.search + this.hash; }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  Object.defineProperty(URL.prototype, '_authority', { enumerable: false });
  global.URL = URL;

  // ---- XML.Node, XML.stringify, XML.encode (XML.parse/decode are native) ----
  // As upstream: a text child with <, > or & is written as CDATA (split at
  // any "]]>"); `space` (0-10) indents. Unlike upstream, attribute values
  // are escaped (upstream writes them raw, which can make invalid XML).
  class XMLNode {
    constructor(name, attributes, children) {
      if (arguments.length < 1) throw new TypeError('XML.Node: requires 1 or more arguments');
      Object.defineProperty(this, '_name', { value: String(name), enumerable: false });
      Object.defineProperty(this, '_attributes', { value: attributes == null ? null : attributes, enumerable: false });
      Object.defineProperty(this, '_children', { value: children == null ? null : children, enumerable: false });
    }
    get name() { return this._name; }
    get attributes() { return this._attributes; }
    get children() { return this._children; }
  }
  var xmlAttr = function (v) {
    return String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  };
  var xmlText = function (v, out) {
    var s = String(v);
    if (!/[<>&]/.test(s)) { out.push(s); return; }
    var i = 0;
    while (i < s.length) {
      var j = s.indexOf(']]>', i);
      j = j < 0 ? s.length : j + 2;
      out.push('<![CDATA[' + s.substring(i, j) + ']]>');
      i = j;
    }
  };
  var xmlStringify = function (doc, space) {
    if (!(doc instanceof XMLNode)) throw new TypeError('XML.stringify: argument #1 expects an XML.Node');
    var top = doc.children;
    if (!top || top.length !== 1 || !(top[0] instanceof XMLNode)) return '';
    space = Math.max(0, Math.min(10, space | 0));
    var out = [];
    var write = function (node, l) {
      if (!node.name) return;
      var pad = ' '.repeat(space * l);
      if (space) out.push(pad);
      out.push('<' + node.name);
      var attrs = node.attributes;
      if (attrs) Object.keys(attrs).forEach(function (k) { out.push(' ' + k + '="' + xmlAttr(attrs[k]) + '"'); });
      var closed = false, isText = false, c = node.children;
      if (c) {
        if (c.length === 1 && !(c[0] instanceof XMLNode)) {
          out.push('>'); xmlText(c[0], out); closed = isText = true;
        }
        if (!isText && c.length > 0) {
          out.push('>'); if (space) out.push('\n'); closed = true;
          var inner = ' '.repeat(space * l + space);
          c.forEach(function (v) {
            if (v instanceof XMLNode) { write(v, l + 1); }
            else { if (space) out.push(inner); xmlText(v, out); if (space) out.push('\n'); }
          });
        }
      }
      if (closed) {
        if (space && !isText) out.push(pad);
        out.push('</' + node.name + '>');
        if (space) out.push('\n');
      } else {
        out.push('/>');
        if (space) out.push('\n');
      }
    };
    write(top[0], 0);
    return out.join('');
  };
  Object.defineProperty(XMLNode, 'name', { value: 'Node' });
  global.XML.Node = XMLNode;
  global.XML.stringify = xmlStringify;
  global.XML.encode = function (doc, space) {
    return doc == null ? null : new Data(xmlStringify(doc, space));
  };

  // ---- Int: a 64-bit (or narrower) integer that keeps its width ----
  // Upstream's pjs has it built in; Hessian and Dubbo use it so that an int
  // stays an int, a long a long. Arithmetic goes through valueOf (a number:
  // exact to 2^53); toString is exact. (Upstream overloads operators to
  // give Ints back.)
  var INT_TYPES = {
    i8: [8, true], i16: [16, true], i32: [32, true], i64: [64, true],
    u8: [8, false], u16: [16, false], u32: [32, false], u64: [64, false],
  };
  var toBig = function (v) {
    if (v instanceof Int) return v._v;
    if (typeof v === 'bigint') return v;
    if (typeof v === 'string') { try { return BigInt(v.trim()); } catch (e) { return 0n; } }
    var n = Number(v);
    return Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n;
  };
  class Int {
    constructor(a, b, c) {
      var t = 'i64', v = 0n;
      if (typeof a === 'string' && a in INT_TYPES) {
        t = a;
        if (c !== undefined) v = (toBig(c) << 32n) | BigInt(Number(b) >>> 0);
        else if (Array.isArray(b)) v = Int._bytes(b, INT_TYPES[t][0]);
        else if (b !== undefined) v = toBig(b);
      } else if (a instanceof Int) {
        t = a._t; v = a._v;
      } else if (Array.isArray(a)) {
        t = a.length > 4 ? 'u64' : a.length > 2 ? 'u32' : a.length > 1 ? 'u16' : 'u8';
        v = Int._bytes(a, INT_TYPES[t][0]);
      } else if (typeof a === 'number' && b !== undefined) {
        v = (toBig(b) << 32n) | BigInt(a >>> 0);
      } else if (a !== undefined) {
        v = toBig(a);
      }
      var w = INT_TYPES[t];
      Object.defineProperty(this, '_t', { value: t, enumerable: false });
      Object.defineProperty(this, '_v', {
        value: w[1] ? BigInt.asIntN(w[0], v) : BigInt.asUintN(w[0], v),
        enumerable: false,
      });
    }
    static _bytes(a, width) {
      var v = 0n;
      for (var i = 0; i < width / 8; i++) v |= BigInt(Number(a[i]) & 255) << BigInt(i * 8);
      return v;
    }
    static parse(s, base) {
      var str = String(s).trim(), neg = false;
      if (str[0] === '-' || str[0] === '+') { neg = str[0] === '-'; str = str.substring(1); }
      var radix = BigInt(base || 10), v = 0n;
      if (str.length === 0) return null;
      for (var ch of str.toLowerCase()) {
        var d = parseInt(ch, 36);
        if (Number.isNaN(d) || BigInt(d) >= radix) return null;
        v = v * radix + BigInt(d);
      }
      return new Int('i64', neg ? -v : v);
    }
    get type() { return this._t; }
    get width() { return INT_TYPES[this._t][0]; }
    get isUnsigned() { return !INT_TYPES[this._t][1]; }
    get low() { return Number(BigInt.asUintN(32, this._v)); }
    get high() { return Number(this.isUnsigned ? this._v >> 32n : BigInt.asIntN(64, this._v) >> 32n); }
    toBytes() {
      var out = [], u = BigInt.asUintN(64, this._v);
      for (var i = 0; i < this.width / 8; i++) out.push(Number((u >> BigInt(i * 8)) & 255n));
      return out;
    }
    valueOf() { return Number(this._v); }
    toString(radix) { return this._v.toString(radix || 10); }
  }
  global.Int = Int;

  var algo = global.algo;

  // ---- algo.Cache ----
  var parseDuration = global.__pipy_duration_ms;
  delete global.__pipy_duration_ms;
  class Cache {
    constructor(onAllocate, onFree, options) {
      this._alloc = typeof onAllocate === 'function' ? onAllocate : null;
      this._free = typeof onFree === 'function' ? onFree : null;
      options = options || {};
      this._size = options.size > 0 ? options.size : 0;
      this._ttl = options.ttl ? parseDuration(options.ttl) : 0;
      this._map = new Map();
    }
    _expired(e) { return this._ttl > 0 && Date.now() - e.t > this._ttl; }
    get(key) {
      var e = this._map.get(key);
      if (e && this._expired(e)) { this.remove(key); e = undefined; }
      if (e) {
        // Move to the back: the map keeps least recently used entries first.
        this._map.delete(key); this._map.set(key, e);
        return e.v;
      }
      if (this._alloc) {
        var v = this._alloc(key);
        this.set(key, v);
        return v;
      }
      return undefined;
    }
    // The cached value without allocating one (upstream's `find`).
    find(key) {
      var e = this._map.get(key);
      if (e && this._expired(e)) { this.remove(key); e = undefined; }
      return e ? e.v : undefined;
    }
    set(key, value) {
      if (this._map.has(key)) this.remove(key);
      this._map.set(key, { v: value, t: Date.now() });
      while (this._size > 0 && this._map.size > this._size) {
        this.remove(this._map.keys().next().value);
      }
    }
    remove(key) {
      var e = this._map.get(key);
      if (!e) return false;
      this._map.delete(key);
      if (this._free) this._free(key, e.v);
      return true;
    }
    clear() { for (var k of Array.from(this._map.keys())) this.remove(k); }
  }
  algo.Cache = Cache;

  // ---- YAML (beyond the reference; see yaml.rs) ----
  var yamlToJson = global.__pipy_yaml_to_json;
  var jsonToYaml = global.__pipy_json_to_yaml;
  delete global.__pipy_yaml_to_json;
  delete global.__pipy_json_to_yaml;
  var YAML = {
    parse: function (text, reviver) {
      var json = yamlToJson(String(text));
      return json === undefined ? undefined : JSON.parse(json, reviver);
    },
    stringify: function (value, replacer) {
      if (value === undefined) return undefined;
      var json = JSON.stringify(value, replacer);
      return json === undefined ? undefined : jsonToYaml(json);
    },
    decode: function (data, reviver) {
      return data ? YAML.parse(data.toString(), reviver) : null;
    },
    encode: function (value, replacer) {
      var text = YAML.stringify(value, replacer);
      return new Data(text === undefined ? '' : text);
    },
  };
  Object.defineProperty(global, 'YAML', { value: YAML, writable: true, configurable: true });

})(this);
