// A WebSocket echo server from the codec filters: the backend both proxies
// of bench/codecs.sh forward to.
pipy().listen(9003).demuxHTTP().to($=>$
  .acceptHTTPTunnel(req => new Message({status: 101, headers: {connection: 'upgrade', upgrade: 'websocket',
    'sec-websocket-accept': (h => (h.update(req.head.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), h.digest('base64')))(new crypto.Hash('sha1'))}})).to($=>$
    .decodeWebSocket()
    .replaceMessage(m => m.head.opcode == 8 ? [new Message({opcode: 8}, m.body), new StreamEnd] : new Message({opcode: m.head.opcode}, m.body))
    .encodeWebSocket()))
