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
  function decodePart(s) {
    try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (e) { return s; }
  }
  class URLSearchParams {
    constructor(init) {
      this._list = [];
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
        Object.keys(init).forEach(function (k) {
          var v = init[k];
          if (Array.isArray(v)) v.forEach(function (x) { this._list.push([k, String(x)]); }, this);
          else this._list.push([k, String(v)]);
        }, this);
      }
    }
    get(name) { for (var p of this._list) if (p[0] === name) return p[1]; return null; }
    getAll(name) { return this._list.filter(function (p) { return p[0] === name; }).map(function (p) { return p[1]; }); }
    has(name) { return this._list.some(function (p) { return p[0] === name; }); }
    set(name, value) {
      var i = this._list.findIndex(function (p) { return p[0] === name; });
      this._list = this._list.filter(function (p, j) { return p[0] !== name || j === i; });
      if (i < 0) this._list.push([name, String(value)]); else this._list[i][1] = String(value);
    }
    append(name, value) { this._list.push([name, String(value)]); }
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
    toString() {
      return this._list.map(function (p) {
        return encodeURIComponent(p[0]) + '=' + encodeURIComponent(p[1]);
      }).join('&');
    }
  }
  global.URLSearchParams = URLSearchParams;

  // ---- URL ----
  var DEFAULT_PORTS = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21' };
  var URL_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(\/\/(?:([^:@\/?#]*)(?::([^@\/?#]*))?@)?(\[[^\]]*\]|[^:\/?#]*)(?::(\d*))?)?([^?#]*)(\?[^#]*)?(#.*)?$/;
  class URL {
    constructor(url, base) {
      url = String(url);
      if (base !== undefined && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(url)) {
        var b = new URL(base);
        if (url.startsWith('//')) url = b.protocol + url;
        else if (url.startsWith('/')) url = b.origin + url;
        else if (url.startsWith('?')) url = b.origin + b.pathname + url;
        else if (url.startsWith('#')) url = b.origin + b.pathname + b.search + url;
        else url = b.origin + b.pathname.replace(/[^\/]*$/, '') + url;
      }
      var m = URL_RE.exec(url);
      if (!m) throw new TypeError('Invalid URL: ' + url);
      this.protocol = m[1].toLowerCase();
      this.username = m[3] || '';
      this.password = m[4] || '';
      this.hostname = (m[5] || '').toLowerCase();
      var port = m[6] || '';
      this.port = port === DEFAULT_PORTS[this.protocol] ? '' : port;
      this.pathname = m[7] || (m[2] ? '/' : '');
      this.search = m[8] && m[8].length > 1 ? m[8] : '';
      this.hash = m[9] && m[9].length > 1 ? m[9] : '';
      this.searchParams = new URLSearchParams(this.search);
    }
    get host() { return this.port ? this.hostname + ':' + this.port : this.hostname; }
    get origin() { return this.protocol + '//' + this.host; }
    get auth() { return this.username ? (this.password ? this.username + ':' + this.password : this.username) : ''; }
    get path() { return this.pathname + this.search; }
    get query() { return this.search.substring(1); }
    get href() {
      var auth = this.auth ? this.auth + '@' : '';
      return this.protocol + '//' + auth + this.host + this.pathname + this.search + this.hash;
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  global.URL = URL;

  var algo = global.algo;

  // ---- algo.Cache ----
  function parseDuration(t) {
    if (typeof t === 'number') return t * 1000;
    var m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(String(t).trim());
    if (!m) return 0;
    var n = Number(m[1]);
    switch (m[2]) {
      case 'ms': return n;
      case 'm': return n * 60000;
      case 'h': return n * 3600000;
      case 'd': return n * 86400000;
      default: return n * 1000;
    }
  }
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

})(this);
