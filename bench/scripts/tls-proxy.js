// Benchmark: TLS termination in front of the reverse proxy to the nginx
// upstream on 9001 (compared with nginx `listen ssl` + proxy_pass).
pipy()
  .listen(9111)
  .acceptTLS({
    certificate: {
      cert: new crypto.Certificate(os.env.BENCH_CERT_PEM),
      key: new crypto.PrivateKey(os.env.BENCH_KEY_PEM),
    },
    alpn: ['http/1.1'],
  }).to(
    $=>$.demuxHTTP().to(
      $=>$.muxHTTP().to(
        $=>$.connect('127.0.0.1:9001')
      )
    )
  )
