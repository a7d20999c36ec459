// Benchmark: serveHTTP of a fixed message (compared with nginx `return 200`).
pipy()
  .listen(9101)
  .serveHTTP(new Message('Hi, there!\n'))
