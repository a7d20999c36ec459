// Benchmark: reverse proxy to the nginx upstream on 9001 (compared with nginx proxy_pass).
pipy()
  .listen(9102)
  .demuxHTTP().to(
    $=>$.muxHTTP().to(
      $=>$.connect('127.0.0.1:9001')
    )
  )
