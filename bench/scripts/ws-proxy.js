// WebSocket proxying: the upgrade and the frames through demuxHTTP/muxHTTP.
pipy().listen(9113).demuxHTTP().to($=>$.muxHTTP().to($=>$.connect('127.0.0.1:9003')))
