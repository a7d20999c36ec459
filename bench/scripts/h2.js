// Benchmark: HTTP/2 (cleartext, prior knowledge) served by serveHTTP
// (compared with nginx `listen ... http2` + return 200).
pipy()
  .listen(9112)
  .serveHTTP(new Message('Hi, there!\n'))
