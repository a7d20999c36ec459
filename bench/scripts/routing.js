// Benchmark: the proxy with a JS routing callback (URLRouter + round robin).
((
  router = new algo.URLRouter({
    '/hi/*': new algo.RoundRobinLoadBalancer(['127.0.0.1:9001']),
    '/*': new algo.RoundRobinLoadBalancer(['127.0.0.1:9001']),
  }),
) => pipy({
  _target: undefined,
})
  .listen(9103)
  .demuxHTTP().to(
    $=>$
    .handleMessageStart(
      msg => _target = router.find(msg.head.headers.host, msg.head.path)?.next?.()
    )
    .muxHTTP(() => _target).to(
      $=>$.connect(() => _target.id)
    )
  )
)()
