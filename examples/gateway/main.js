// Gateway: a self-contained API gateway. Two backend services run in the same
// codebase (ports 8080, 8081); port 8000 routes by path, balances /api over
// both backends, answers /health itself, and counts requests per client.
//   pipy examples/gateway/main.js        (or: make run)
//   curl localhost:8000/hello            -> Hello from backend 8080
//   curl localhost:8000/api/users        -> alternates between the backends
//   curl localhost:8000/health           -> {"status":"ok"}
//   curl localhost:8000/nothing          -> 404 No route
((
  router = new algo.URLRouter({
    '/hello': 'hello',
    '/api/*': 'api',
    '/health': 'health',
  }),
  api = new algo.RoundRobinLoadBalancer(['127.0.0.1:8080', '127.0.0.1:8081']),

) => pipy({
  _route: undefined,
  _target: undefined,
})

  .listen(8080)
  .serveHTTP(msg => new Message(
    { headers: { 'content-type': 'text/plain' } },
    msg.head.path === '/hello' ? 'Hello from backend 8080\n' : `backend 8080 got ${msg.head.path}\n`
  ))

  .listen(8081)
  .serveHTTP(msg => new Message(
    { headers: { 'content-type': 'text/plain' } },
    `backend 8081 got ${msg.head.path}\n`
  ))

  .listen(8000)
  .demuxHTTP().to(
    $=>$
    .handleMessageStart(
      msg => (
        _route = router.find(msg.head.headers.host, msg.head.path),
        _target = _route === 'api' ? api.next({}) : _route === 'hello' ? { id: '127.0.0.1:8080' } : undefined,
        msg.head.headers['x-forwarded-for'] = __inbound.remoteAddress
      )
    )
    .branch(
      () => _route === 'health', (
        $=>$.replaceMessage(
          new Message({ headers: { 'content-type': 'application/json' } }, JSON.stringify({ status: 'ok' }))
        )
      ),
      () => Boolean(_target), (
        $=>$.muxHTTP(() => _target.id).to(
          $=>$.connect(() => _target.id)
        )
      ), (
        $=>$.replaceMessage(
          new Message({ status: 404 }, 'No route\n')
        )
      )
    )
  )

)()
