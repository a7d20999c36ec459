// Declarations of the Configuration object: the filters and pipeline layout
// methods a PipyJS script chains. Written for this project's API; read by the
// console's completion and hover help and checked by `tsc` in the tests.
//
// The list of methods follows the runtime's method table
// (sidecar/runtime/src/config/), and each option interface holds the keys
// that code reads. Types of events, messages and the API classes come from
// api.d.ts.

// ---------------------------------------------------------------------------
// Shared shapes
// ---------------------------------------------------------------------------

/** A function that lays out a pipeline on the `$` it is given. */
type PipelineBuilder = ($: Configuration) => Configuration;

/**
 * A sub-pipeline as a joint filter or `to` takes it: the name of a pipeline of this module, a `$=>$...` builder, or a value made by `pipeline(...)`.
 */
type SubPipeline = string | PipelineBuilder | PipelineValue;

/**
 * Events a script hands to a filter: one event, a whole Message, Data or text, or an array of these. `null` and `undefined` stand for no events.
 */
type OutputEvents = Event | Message | string | Array<Event | Message | string> | null | undefined;

/**
 * Starting input of a pipeline: events, or a function giving them (or a Promise of them) when the pipeline starts.
 */
type StartingEvents = OutputEvents | ((...args: any[]) => OutputEvents | Promise<OutputEvents> | void);

/**
 * One state of a `deframe` machine: a function of the next byte (or of the bytes it asked to read) giving the next state's name or an array of events, the next state and an optional read; or such a result as a constant.
 */
type DeframeState = string | Array<any> | ((input: number | Data | Array<number>) => string | Array<any>);

/** What the `onState` callback of `connect` is told each time its connection changes state. */
interface OutboundState {
  /** One of `'open'`, `'connecting'`, `'connected'` or `'closed'`. */
  readonly state: 'open' | 'connecting' | 'connected' | 'closed';
  /** Local IP address once connected, empty before. */
  readonly localAddress: string;
  /** Local port once connected, 0 before. */
  readonly localPort: number;
  /** The peer's IP address once connected, empty before. */
  readonly remoteAddress: string;
  /** The peer's port (the target's port until connected). */
  readonly remotePort: number;
}

/** A certificate and its private key, as a TLS side presents them. */
interface TLSCertificate {
  /** The certificate, or a chain with the leaf first. */
  cert: crypto.Certificate | crypto.CertificateChain;
  /** The private key matching the certificate. */
  key: crypto.PrivateKey;
}

/** A TLS session as an `onState` callback sees it. */
interface TLSSession {
  /** One of `'idle'`, `'handshake'`, `'connected'` or `'closed'`. */
  readonly state: 'idle' | 'handshake' | 'connected' | 'closed';
  /** Why the session failed, when it did. */
  readonly error?: string;
  /** The protocol ALPN settled on, when any. */
  readonly protocol?: string;
  /** The server name asked for (SNI), when known. */
  readonly hostname?: string;
  /** The peer's certificate, or `null` when it showed none. */
  readonly peer: crypto.Certificate | null;
}

/** What `handleTLSClientHello` reads from a TLS ClientHello. */
interface TLSClientHello {
  /** Server names from the SNI extension, when the hello has one. */
  readonly serverNames?: string[];
  /** Protocol names from the ALPN extension, when the hello has one. */
  readonly protocolNames?: string[];
}

/** A PROXY protocol header, as `acceptProxyProtocol` reads it and `connectProxyProtocol` writes it. */
interface ProxyProtocolHeader {
  /** Protocol version, 1 (text) or 2 (binary); 1 when writing without it. */
  version?: 1 | 2;
  /** Version 2 only: `'PROXY'` for a relayed connection, `'LOCAL'` for one of the balancer's own. */
  command?: 'PROXY' | 'LOCAL';
  /** Transport and address family; `'TCP4'` when writing without it. */
  protocol?: 'TCP4' | 'TCP6' | 'UDP4' | 'UDP6' | 'UNKNOWN';
  /** The client's IP address. */
  sourceAddress?: string;
  /** The client's port. */
  sourcePort?: number;
  /** The address the client connected to. */
  targetAddress?: string;
  /** The port the client connected to. */
  targetPort?: number;
}

/** A SOCKS request as `acceptSOCKS` hands it to its handler. */
interface SOCKSRequest {
  /** The user id of a SOCKS 4 request; undefined for SOCKS 5. */
  readonly id?: string;
  /** The target IP address, when the client gave an address. */
  readonly ip?: string;
  /** The target host name, when the client gave a name. */
  readonly domain?: string;
  /** The target port. */
  readonly port: number;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/** Options every TCP socket takes, accepted (`listen`) or opened (`connect`, `http.Agent`). */
interface SocketOptions {
  /** Bytes waiting to be written at which reading from the other side pauses; a number or text such as `'1m'` (1 MiB by default, 0 for never). */
  congestionLimit?: number | string;
  /** Bytes waiting to be written past which the stream ends; a number or text such as `'16m'` (16 MiB by default, 0 for no limit). */
  bufferLimit?: number | string;
  /** End the connection when nothing is read for this long; seconds or text such as `'10s'` (none by default). */
  readTimeout?: number | string;
  /** End the connection when a write does not finish in this long; seconds or text with a unit (none by default). */
  writeTimeout?: number | string;
  /** End the connection when nothing moves either way for this long; seconds or text with a unit (1 minute by default, 0 for none). */
  idleTimeout?: number | string;
  /** Send TCP keep-alive probes (on by default). */
  keepAlive?: boolean;
  /** Turn off Nagle's algorithm so small writes go out at once (on by default). */
  noDelay?: boolean;
}

/** Options of `listen` (and `pipy.listen`). */
interface ListenOptions extends SocketOptions {
  /** `'tcp'` (the default) or `'udp'`. */
  protocol?: 'tcp' | 'udp';
  /** Most connections open at once; accepting pauses at the limit. */
  maxConnections?: number;
  /** Accept connections redirected by NAT rules; their original destination shows in `__inbound.destinationAddress`. */
  transparent?: boolean;
  /** Keep inbound metrics per client address as well as per port. */
  peerStats?: boolean;
  /** Accepted for compatibility; it has no effect. */
  masquerade?: boolean;
}

/** Options of `connect`. */
interface ConnectOptions extends SocketOptions {
  /** `'tcp'` (the default) or `'udp'`. */
  protocol?: 'tcp' | 'udp';
  /** Give up connecting after this long; seconds or text with a unit (no limit by default). */
  connectTimeout?: number | string;
  /** Extra attempts after a failed connect; -1 retries for ever (0 by default). */
  retryCount?: number;
  /** Pause between attempts; seconds or text with a unit (none by default). */
  retryDelay?: number | string;
  /** Local address to bind before connecting, `'ip'` or `'ip:port'`, or a function giving it per connection. */
  bind?: string | (() => string);
  /** Called each time the connection changes state. */
  onState?: (outbound: OutboundState) => void;
}

/** Options of `demuxHTTP`. */
interface DemuxHTTPOptions {
  /** The largest request head accepted; bytes or text such as `'16k'` (16 KiB by default). */
  maxHeaderSize?: number | string;
  /** Response bodies up to this size go out with a `content-length`, longer ones chunked; bytes or text with a unit (16 KiB by default). */
  bufferSize?: number | string;
}

/** Options of `decodeHTTPRequest` and `decodeHTTPResponse`. */
interface DecodeHTTPOptions {
  /** The largest message head accepted; bytes or text such as `'16k'` (16 KiB by default). */
  maxHeaderSize?: number | string;
  /** Accepted for compatibility; decoding does not use it. */
  bufferSize?: number | string;
}

/** Options of `encodeHTTPRequest`. */
interface EncodeHTTPRequestOptions {
  /** Bodies up to this size go out with a `content-length`, longer ones chunked; bytes or text with a unit. */
  bufferSize?: number | string;
}

/** Options of `encodeHTTPResponse`. */
interface EncodeHTTPResponseOptions {
  /** Bodies up to this size go out with a `content-length`, longer ones chunked; bytes or text with a unit. */
  bufferSize?: number | string;
  /** Accepted for compatibility; it has no effect. */
  final?: boolean;
  /** Accepted for compatibility; it has no effect. */
  bodiless?: boolean;
}

/** Options of `mux` (and `muxQueue`). */
interface MuxOptions {
  /** How long a shared pipeline nobody uses stays open; seconds or text with a unit (60 seconds by default). */
  maxIdle?: number | string;
  /** Streams one shared pipeline takes at once; more open another one for the same key (0 for no limit). */
  maxQueue?: number;
  /** Messages after which a shared pipeline takes no new streams (0 for no limit). */
  maxMessages?: number;
  /** Messages the shared pipeline answers each input message with (1 by default), or a function of the message's start giving that number. */
  outputCount?: number | ((start: MessageStart) => number);
}

/** Options of `muxFastCGI`. */
interface MuxFastCGIOptions {
  /** How long an unused session stays open; seconds or text with a unit (60 seconds by default). */
  maxIdle?: number | string;
  /** Streams one session takes at once; more open another one for the same key (0 for no limit). */
  maxQueue?: number;
  /** Requests after which a session takes no new streams (0 for no limit). */
  maxMessages?: number;
}

/** Options of `muxHTTP`. */
interface MuxHTTPOptions {
  /** HTTP version towards the server: 1 (the default) or 2 (also `'h2'`), or a function giving one, or a Promise of one, per session. */
  version?: number | string | (() => number | string | Promise<number | string>);
  /** How long an unused session stays open; seconds or text with a unit (60 seconds by default). */
  maxIdle?: number | string;
  /** Requests waiting on one session at most; more open another session (0 for no limit). */
  maxQueue?: number;
  /** Requests after which a session takes no new ones (0 for no limit). */
  maxMessages?: number;
  /** The largest response head accepted; bytes or text with a unit (16 KiB by default). */
  maxHeaderSize?: number | string;
  /** Request bodies up to this size go out with a `content-length`, longer ones chunked (16 KiB by default). */
  bufferSize?: number | string;
  /** Accepted for compatibility; it has no effect. */
  ping?: any;
}

/** Options of `demux` (and `demuxQueue`). */
interface DemuxOptions {
  /** Messages of each sub-pipeline's output that answer its input message (1 by default), or a function of the message's start giving that number. */
  outputCount?: number | ((start: MessageStart) => number);
}

/** Options of `acceptTLS`. */
interface AcceptTLSOptions {
  /** Protocols the server speaks (the first the client offers that is listed wins), or a function of the client's list giving the index of the chosen one; without it no protocol is negotiated. */
  alpn?: Array<string> | ((names: Array<string>) => number);
  /** Accepted and ignored: finite-field Diffie-Hellman is not offered. */
  dhparam?: any;
  /** The oldest TLS version allowed (`'TLS1.2'` by default). */
  minVersion?: 'TLS1' | 'TLS1.1' | 'TLS1.2' | 'TLS1.3';
  /** The newest TLS version allowed (`'TLS1.3'` by default). */
  maxVersion?: 'TLS1' | 'TLS1.1' | 'TLS1.2' | 'TLS1.3';
  /** Our certificate and key, or a function of the requested server name giving them. */
  certificate?: TLSCertificate | ((sni: string | undefined) => TLSCertificate | null | undefined);
  /** Certificates the peer's chain must lead to; without it the peer is not checked. */
  trusted?: Array<crypto.Certificate>;
  /** Has the last word on each certificate of the peer's chain (only when `trusted` is given); `ok` is the built-in verdict. */
  verify?: (ok: boolean, cert: crypto.Certificate) => boolean;
  /** Older name of `verify`; when both are given this one wins. */
  onVerify?: (ok: boolean, cert: crypto.Certificate) => boolean;
  /** Called when the handshake completes, with the protocol ALPN chose (empty when none). */
  handshake?: (info: { alpn: string }) => void;
  /** Called each time the session changes state. */
  onState?: (session: TLSSession) => void;
  /** Accepted and ignored with a warning: the TLS library picks among its own modern cipher suites. */
  ciphers?: string;
}

/** Options of `connectTLS`. */
interface ConnectTLSOptions {
  /** Protocols to offer the server through ALPN. */
  alpn?: string | Array<string>;
  /** The server name to send (SNI), or a function giving it per connection. */
  sni?: string | (() => string | null | undefined);
  /** The oldest TLS version allowed (`'TLS1.2'` by default). */
  minVersion?: 'TLS1' | 'TLS1.1' | 'TLS1.2' | 'TLS1.3';
  /** The newest TLS version allowed (`'TLS1.3'` by default). */
  maxVersion?: 'TLS1' | 'TLS1.1' | 'TLS1.2' | 'TLS1.3';
  /** Our certificate and key, or a function of the requested server name giving them. */
  certificate?: TLSCertificate | ((sni: string | undefined) => TLSCertificate | null | undefined);
  /** Certificates the peer's chain must lead to; without it the peer is not checked. */
  trusted?: Array<crypto.Certificate>;
  /** Has the last word on each certificate of the peer's chain (only when `trusted` is given); `ok` is the built-in verdict. */
  verify?: (ok: boolean, cert: crypto.Certificate) => boolean;
  /** Older name of `verify`; when both are given this one wins. */
  onVerify?: (ok: boolean, cert: crypto.Certificate) => boolean;
  /** Called when the handshake completes, with the protocol ALPN chose (empty when none). */
  handshake?: (info: { alpn: string }) => void;
  /** Called each time the session changes state. */
  onState?: (session: TLSSession) => void;
  /** Accepted and ignored with a warning: the TLS library picks among its own modern cipher suites. */
  ciphers?: string;
}

/** Options of `detectProtocol`. */
interface DetectProtocolOptions {
  /** Seconds to wait for enough bytes before answering `''` (1 by default, 0 to wait for ever). */
  timeout?: number;
}

/** Options of `handleMessage`, `handleMessageBody`, `replaceMessage` and `replaceMessageBody`. */
interface HandleMessageOptions {
  /** Cut each gathered body to this many bytes (text such as `'1m'` works too); without it a body over 16 MiB ends the stream. */
  bufferLimit?: number | string;
}

/** Options of `pack`. */
interface PackOptions {
  /** Send what is gathered when no message came for this long; seconds or text with a unit. */
  timeout?: number | string;
  /** Send what is gathered once this long has passed since the last batch; seconds or text with a unit. */
  interval?: number | string;
  /** Text put before the combined body. */
  prefix?: string;
  /** Text put after the combined body. */
  postfix?: string;
  /** Text put between the bodies. */
  separator?: string;
  /** Accepted for compatibility; it has no effect. */
  vacancy?: number;
}

/** Options of `tee`. */
interface TeeOptions {
  /** Add to the file instead of truncating it. */
  append?: boolean;
  /** Let every stream writing the same path share one file, which then rotates. */
  shared?: boolean;
  /** Rotate a shared file before a write would take it past this size; bytes or text with a unit. */
  maxFileSize?: number | string;
  /** Rotated files kept at most. */
  maxFileCount?: number;
  /** Rotate a shared file once it is this old; seconds or text with a unit. */
  rotateInterval?: number | string;
}

/** Options of `read`. */
interface ReadOptions {
  /** Byte offset to start reading at, or a function giving it. */
  seek?: number | (() => number);
  /** Bytes to read at most, or a function giving that (the rest of the file by default). */
  size?: number | (() => number);
}

/** Options of `wait`. */
interface WaitOptions {
  /** Let the held events through anyway once the first has waited this long; seconds or text with a unit. */
  timeout?: number | string;
}

/** Options of `replay`. */
interface ReplayOptions {
  /** Pause before each rerun; seconds, text with a unit, or a function giving either (none by default). */
  delay?: number | string | (() => number | string);
}

/** Options of `depositMessage`. */
interface DepositMessageOptions {
  /** Body bytes passed on at once before the rest goes to the file; bytes or text with a unit (0 by default). */
  threshold?: number | string;
  /** Keep the file afterwards instead of removing it. */
  keep?: boolean;
}

/** Options of `exec`. */
interface ExecOptions {
  /** Mix standard error into the output instead of keeping it for `onExit`. */
  stderr?: boolean;
  /** The child's whole environment, or a function giving it. */
  env?: Record<string, string> | (() => Record<string, string>);
  /** Told the child's process id once it started. */
  onStart?: (pid: number) => void;
  /** Called after the child exited and its output was read, with its exit code and kept standard error; events it returns are output in place of the end of the stream. */
  onExit?: (code: number, stderr?: Data) => OutputEvents | void;
}

/** Options of the throttle filters. */
interface ThrottleOptions {
  /** Stop reading the source while the quota is used up (true by default); when false, what waits is bounded and more ends the stream. */
  blockInput?: boolean;
}

/** Options of `decodeMQTT` and `encodeMQTT`. */
interface MQTTOptions {
  /** MQTT protocol level (4 for 3.1.1, 5 by default), or a function giving it; a CONNECT packet sets it for the rest of its stream. */
  protocolLevel?: number | (() => number);
}

/** Options of `decodeBGP` and `encodeBGP`. */
interface BGPOptions {
  /** Whether AS numbers take four octets (off by default); a boolean, `'true'` or `'false'`, or a function giving one per message. */
  enableAS4?: boolean | string | (() => boolean);
}

// ---------------------------------------------------------------------------
// The Configuration
// ---------------------------------------------------------------------------

/**
 * What `pipy()` returns: each method adds a pipeline layout or appends a filter to the layout being defined, and returns the same object so that calls chain.
 */
interface Configuration {

  // --- Layouts and module plumbing -----------------------------------------

  /**
   * Starts the layout of the pipeline that serves each connection accepted on a port; the filters chained after it make up that pipeline.
   * @param port A port number, `'address:port'` text, or `null` for a layout nothing listens for (a way to switch a port off).
   * @param options Socket and listener settings.
   */
  listen(port: number | string | null, options?: ListenOptions): Configuration;

  /**
   * Starts a named pipeline layout that sub-pipeline arguments can refer to; without a name it is the module's entry pipeline, used by `chain` and `use`.
   * @param name The pipeline's name, unique in the module.
   */
  pipeline(name?: string): Configuration;

  /**
   * Starts a pipeline the worker runs by itself: once at startup, every so often, or on a signal.
   * @param when Nothing for once, an interval (seconds or text such as `'5s'`, between 10 ms and a day), or a signal name such as `'SIGHUP'`.
   * @param startingEvents The pipeline's input, or a function giving it when a run starts.
   */
  task(when?: number | string | null, startingEvents?: StartingEvents): Configuration;
  task(startingEvents: StartingEvents): Configuration;

  /**
   * Starts a pipeline that runs each time a file of the codebase changes (appearing and disappearing count), one run at a time.
   * @param filename Path of the file in the codebase.
   */
  watch(filename: string): Configuration;

  /**
   * Starts a pipeline that answers the admin port's requests for one path; its input is the request Message and its output the response.
   * @param path The request path, which must start with `/admin/`.
   */
  admin(path: string): Configuration;

  /**
   * Starts a pipeline that runs once when the worker shuts down; the process waits for its stream to end, within the drain timeout.
   */
  exit(): Configuration;

  /**
   * Gives the joint filter just appended (such as `demuxHTTP`, `muxHTTP`, `fork` or `acceptTLS`) its sub-pipeline.
   * @param target A pipeline name, a `$=>$...` builder, or a pipeline value.
   */
  to(target: SubPipeline): Configuration;

  /**
   * Declares per-stream variables that other modules can import under a namespace, with their initial values.
   * @param namespace The name importers refer to.
   * @param variables Variable names mapped to initial values.
   */
  export(namespace: string, variables: Record<string, any>): Configuration;

  /**
   * Makes variables exported by other modules visible in this one.
   * @param variables Variable names mapped to the namespace each was exported under.
   */
  import(variables: Record<string, string>): Configuration;

  /**
   * Calls a builder several times while the layout is defined, once per count or array item; with a condition function instead it appends a filter that reruns its sub-pipeline (given by `to`) while the condition holds at each end.
   * @param count How many times to call `builder`, or an array to call it once per item.
   * @param builder Appends filters on the `$` it is given.
   */
  repeat(count: number, builder: ($: Configuration, index: number) => void): Configuration;
  repeat(items: Array<any>, builder: ($: Configuration, item: any, index: number) => void): Configuration;
  repeat(condition: (end: StreamEnd) => boolean | Promise<boolean>): Configuration;

  /**
   * Runs a function when each pipeline of this layout starts; what it returns (events, or a Promise of them) is fed in first. Only allowed before the layout's filters.
   * @param handler Called with the start arguments of the pipeline (such as `__inbound` for a listener, or a fork's startup value); a constant gives the same events every time.
   */
  onStart(handler: StartingEvents): Configuration;

  /**
   * Runs a function when the stream of each pipeline of this layout ends. Only allowed before the layout's filters.
   * @param handler Called with the StreamEnd.
   */
  onEnd(handler: (end: StreamEnd) => void): Configuration;

  // --- Linking to other pipelines -------------------------------------------

  /**
   * Passes the stream through another pipeline that shares its context; the filter outputs what that pipeline outputs.
   * @param target A pipeline name or value, or a function giving a pipeline name when the stream starts.
   */
  link(target: string | PipelineValue | (() => string)): Configuration;

  /**
   * Like `link`, but the other pipeline takes the stream's events on the next turn of the event loop, so a pipeline can feed one that answers back into it.
   * @param target A pipeline name, or a function giving one when the stream starts.
   */
  linkAsync(target: string | (() => string)): Configuration;

  /**
   * Passes the stream through a pipeline chosen at run time, sharing the stream's context; events wait until a choice is made.
   * @param target A pipeline value, a name looked up in `targetMap`, an array of them to walk as a chain (see `pipeNext`), or a function of each event giving one.
   * @param targetMap Names mapped to pipeline values or builders.
   * @param initArgs Arguments for the chosen pipeline's `onStart`, or a function of the first event giving them.
   */
  pipe(target: PipelineValue | string | Array<PipelineValue | string> | ((evt: Event) => PipelineValue | string | null | undefined), targetMap?: Record<string, PipelineValue | PipelineBuilder>, initArgs?: Array<any> | ((evt: Event) => any)): Configuration;
  pipe(target: PipelineValue | string | Array<PipelineValue | string> | ((evt: Event) => PipelineValue | string | null | undefined), initArgs: Array<any> | ((evt: Event) => any)): Configuration;

  /**
   * Inside a pipeline of a `pipe([...])` chain, passes the stream on to the next pipeline of the chain, or out of the chain after the last one.
   */
  pipeNext(): Configuration;

  /**
   * With a list of modules, walks the stream through their entry pipelines in order; with no argument, inside such a pipeline, continues to the next module (passing events on when there is none).
   * @param modules Paths of the modules in the chain.
   */
  chain(modules?: Array<string>): Configuration;

  /**
   * Passes the stream through a named pipeline of another module, or through that pipeline of each of several modules in turn; a path ending in `.so` loads a native module instead.
   * @param modules A module path or an array of them.
   * @param pipeline The pipeline name to look up in each module (the entry pipeline when absent).
   */
  use(modules: string | Array<string>, pipeline?: string): Configuration;

  /**
   * Sends the stream through the first sub-pipeline whose condition holds, chosen at the stream's first event; a last sub-pipeline with no condition is the fallback. When every condition is a plain value the choice is made at once and the chosen builder's filters are appended in place.
   * @param condition A function deciding whether the sub-pipeline after it is taken, or a plain value.
   * @param target The sub-pipeline taken when `condition` holds.
   * @param rest More condition and sub-pipeline pairs, optionally ending with a fallback sub-pipeline.
   */
  branch(condition: boolean | (() => boolean), target: SubPipeline, ...rest: Array<boolean | (() => boolean) | SubPipeline>): Configuration;

  /**
   * Like `branch`, but the choice is made at the first MessageStart, which the conditions are given.
   * @param condition A function of the MessageStart deciding whether the sub-pipeline after it is taken.
   * @param target The sub-pipeline taken when `condition` holds.
   * @param rest More condition and sub-pipeline pairs, optionally ending with a fallback sub-pipeline.
   */
  branchMessageStart(condition: (start: MessageStart) => boolean, target: SubPipeline, ...rest: Array<((start: MessageStart) => boolean) | SubPipeline>): Configuration;

  /**
   * Like `branch`, but the choice is made once the first whole message has arrived, which the conditions are given.
   * @param condition A function of the Message deciding whether the sub-pipeline after it is taken.
   * @param target The sub-pipeline taken when `condition` holds.
   * @param rest More condition and sub-pipeline pairs, optionally ending with a fallback sub-pipeline.
   */
  branchMessage(condition: (msg: Message) => boolean, target: SubPipeline, ...rest: Array<((msg: Message) => boolean) | SubPipeline>): Configuration;

  /**
   * Sends a copy of the stream into one or more sub-pipelines (given by `to`) whose output is dropped, while the stream itself passes on unchanged.
   * @param startupValues What each sub-pipeline's `onStart` receives: an array starts one sub-pipeline per item, each with a context of its own; a function gives the value at the first event.
   */
  fork(startupValues?: any): Configuration;
  fork(target: string, startupValues?: any): Configuration;

  /**
   * Like `fork`, but the stream is held until every sub-pipeline's stream has ended, then goes on; their output is dropped.
   * @param startupValues What each sub-pipeline's `onStart` receives; an array starts one sub-pipeline per item.
   */
  forkJoin(startupValues?: any): Configuration;

  /**
   * Like `fork`, but the filter outputs what the first sub-pipeline to output anything outputs; the stream itself goes no further.
   * @param startupValues What each sub-pipeline's `onStart` receives; an array starts one sub-pipeline per item.
   */
  forkRace(startupValues?: any): Configuration;

  /**
   * Feeds what its sub-pipeline outputs back into it, so a script can keep a conversation going; everything the sub-pipeline outputs also leaves the filter.
   * @param builder Lays out the sub-pipeline.
   */
  loop(builder: PipelineBuilder): Configuration;

  /**
   * Keeps the stream's events and runs its sub-pipeline (given by `to`) again from the start whenever it ends with a `Replay` StreamEnd.
   * @param options The pause before each rerun.
   */
  replay(options?: ReplayOptions): Configuration;

  /**
   * Joins the stream to a Hub: what comes in goes out of every other stream joined to it, and what they send comes out here.
   * @param hub A Hub, or a function giving one at the first event.
   */
  swap(hub: pipeline.Hub | (() => pipeline.Hub | null | undefined)): Configuration;

  // --- Multiplexing ---------------------------------------------------------

  /**
   * Gives each input message a sub-pipeline of its own (given by `to`, with a forked context) and outputs their answers in the order of the messages.
   * @param options How many messages of each sub-pipeline's output answer it.
   */
  demux(options?: DemuxOptions): Configuration;
  demux(target: string, options?: DemuxOptions): Configuration;

  /**
   * Another name of `demux`, from the newer pipeline API.
   * @param options How many messages of each sub-pipeline's output answer it.
   */
  demuxQueue(options?: DemuxOptions): Configuration;
  demuxQueue(target: string, options?: DemuxOptions): Configuration;

  /**
   * Sends the messages of many streams, each whole and one after another, into a shared sub-pipeline (given by `to`) chosen by a key; each stream gets back the messages that answer its own.
   * @param key The session key, or a function giving it per stream (by default the inbound connection).
   * @param options Session limits and answer counts, or a function giving them at the first message.
   */
  mux(key?: any, options?: MuxOptions | (() => MuxOptions)): Configuration;
  mux(target: string, key?: any, options?: MuxOptions | (() => MuxOptions)): Configuration;

  /**
   * Another name of `mux`, from the newer pipeline API.
   * @param key The session key, or a function giving it per stream (by default the inbound connection).
   * @param options Session limits and answer counts, or a function giving them at the first message.
   */
  muxQueue(key?: any, options?: MuxOptions | (() => MuxOptions)): Configuration;
  muxQueue(target: string, key?: any, options?: MuxOptions | (() => MuxOptions)): Configuration;

  // --- HTTP -----------------------------------------------------------------

  /**
   * The server side of HTTP/1 and HTTP/2: decodes requests from the byte stream, gives each one a sub-pipeline of its own (given by `to`), and encodes the answers back in request order.
   * @param options Head size limit and encoding buffer size.
   */
  demuxHTTP(options?: DemuxHTTPOptions): Configuration;
  demuxHTTP(target: string, options?: DemuxHTTPOptions): Configuration;

  /**
   * Answers each HTTP request on the byte stream with a Message, given as a constant or computed by a function of the request.
   * @param handler The response, or a function of the request Message giving a response (or a Promise of one); a body alone answers 200.
   */
  serveHTTP(handler: Message | ((request: Message) => Message | Data | string | Promise<Message | Data | string>)): Configuration;

  /**
   * The client side of HTTP: requests of many streams share sessions to a server, one sub-pipeline (given by `to`, usually ending in `connect`) per session, and each stream gets its own responses back.
   * @param key The session key, or a function giving it per stream (by default the inbound connection).
   * @param options Protocol version and session limits, or a function giving them at the first request.
   */
  muxHTTP(key?: any, options?: MuxHTTPOptions | (() => MuxHTTPOptions)): Configuration;
  muxHTTP(target: string, key?: any, options?: MuxHTTPOptions | (() => MuxHTTPOptions)): Configuration;

  /**
   * Decodes HTTP/1 requests from a byte stream into Messages.
   * @param options Head size limit.
   * @param handler Called with each request's head as it is decoded.
   */
  decodeHTTPRequest(options?: DecodeHTTPOptions, handler?: (head: http.RequestHead) => void): Configuration;
  decodeHTTPRequest(handler: (head: http.RequestHead) => void, options?: DecodeHTTPOptions): Configuration;

  /**
   * Decodes HTTP/1 responses from a byte stream into Messages.
   * @param options Head size limit.
   * @param handler Called with each response's head as it is decoded.
   */
  decodeHTTPResponse(options?: DecodeHTTPOptions, handler?: (head: http.ResponseHead) => void): Configuration;
  decodeHTTPResponse(handler: (head: http.ResponseHead) => void, options?: DecodeHTTPOptions): Configuration;

  /**
   * Encodes request Messages into HTTP/1 bytes.
   * @param options When to announce the body's length instead of chunking it.
   */
  encodeHTTPRequest(options?: EncodeHTTPRequestOptions): Configuration;

  /**
   * Encodes response Messages into HTTP/1 bytes.
   * @param options When to announce the body's length instead of chunking it.
   */
  encodeHTTPResponse(options?: EncodeHTTPResponseOptions): Configuration;

  /**
   * Inside a `demuxHTTP` sub-pipeline, reads a `CONNECT` (or upgrade) request, answers it, and when the answer opens the tunnel passes the rest of the stream to its sub-pipeline (given by `to`).
   * @param handler Given the request, returns the answer Message; `undefined` answers a bare 200.
   */
  acceptHTTPTunnel(handler: (request: Message) => Message | null | undefined): Configuration;
  acceptHTTPTunnel(target: string, handler: (request: Message) => Message | null | undefined): Configuration;

  /**
   * Opens an HTTP tunnel through its sub-pipeline (given by `to`, usually `muxHTTP` towards a proxy) by sending a request, then passes the stream through the tunnel.
   * @param request The `CONNECT` request Message, or a function giving it per stream.
   */
  connectHTTPTunnel(request: Message | (() => Message)): Configuration;

  /**
   * Compresses each HTTP message's body and sets its `content-encoding`, unless the head already has one.
   * @param algorithm `'deflate'` or `'gzip'` (another name leaves messages alone), or a function of the MessageStart giving it.
   */
  compressHTTP(algorithm: string | ((start: MessageStart) => string | null | undefined)): Configuration;

  /**
   * Decompresses each HTTP message's body as its `content-encoding` (gzip, deflate or br) says, and removes that header.
   */
  decompressHTTP(): Configuration;

  // --- Connections and transports -------------------------------------------

  /**
   * Sends the stream's Data to a remote peer and outputs what the peer sends back, ending when the connection closes or fails.
   * @param target `'host:port'`, or a function giving it per stream.
   * @param options Connection settings, or a function giving them per stream.
   */
  connect(target: string | (() => string), options?: ConnectOptions | (() => ConnectOptions)): Configuration;

  /**
   * The server side of TLS: decrypts what comes in for its sub-pipeline (given by `to`) and encrypts what that answers.
   * @param options Certificate, trust, ALPN and callbacks.
   */
  acceptTLS(options?: AcceptTLSOptions): Configuration;
  acceptTLS(target: string, options: AcceptTLSOptions): Configuration;

  /**
   * The client side of TLS: encrypts what comes in for its sub-pipeline (given by `to`, usually `connect`) and decrypts what comes back.
   * @param options Server name, certificate, trust, ALPN and callbacks.
   */
  connectTLS(options?: ConnectTLSOptions): Configuration;
  connectTLS(target: string, options: ConnectTLSOptions): Configuration;

  /**
   * Reads the TLS ClientHello at the start of the stream and calls a function with what it offers; every event passes on unchanged.
   * @param callback Given the server names and protocol names of the hello.
   */
  handleTLSClientHello(callback: (hello: TLSClientHello) => void): Configuration;

  /**
   * Tells from the stream's first bytes whether it is HTTP/1, HTTP/2 or TLS and calls a function once with the answer; every event passes on unchanged.
   * @param callback Given `'HTTP'`, `'HTTP2'`, `'TLS'` or `''` (none matched, or the timeout came first); events it returns are output before the rest.
   * @param options How long to wait for enough bytes.
   */
  detectProtocol(callback: (protocol: 'HTTP' | 'HTTP2' | 'TLS' | '') => OutputEvents | void, options?: DetectProtocolOptions): Configuration;

  /**
   * Reads a PROXY protocol header (version 1 or 2) at the start of the stream, asks a function whether to go on, and passes the rest to its sub-pipeline (given by `to`).
   * @param handler Given the header; a truthy result accepts the connection.
   */
  acceptProxyProtocol(handler: (header: ProxyProtocolHeader) => boolean): Configuration;

  /**
   * Writes a PROXY protocol header in front of what it passes to its sub-pipeline (given by `to`).
   * @param header The header to write, or a function giving it per stream.
   */
  connectProxyProtocol(header: ProxyProtocolHeader | (() => ProxyProtocolHeader)): Configuration;

  /**
   * The server side of SOCKS 4, 4a and 5: reads the client's request, asks a function whether to accept it, and passes the rest of the stream to its sub-pipeline (given by `to`).
   * @param handler Given the request; a truthy result accepts it.
   */
  acceptSOCKS(handler: (request: SOCKSRequest) => boolean): Configuration;
  acceptSOCKS(target: string, handler: (request: SOCKSRequest) => boolean): Configuration;

  /**
   * The client side of SOCKS 5: asks a server, through its sub-pipeline (given by `to`), for a connection to the target, then passes the stream on.
   * @param target `'host:port'` to ask for, or a function giving it per stream.
   */
  connectSOCKS(target: string | (() => string)): Configuration;
  connectSOCKS(layout: string, target: string | (() => string)): Configuration;

  // --- Event handlers -------------------------------------------------------

  /**
   * Calls a function with every event and passes each on unchanged.
   * @param callback Given each event.
   */
  handle(callback: (evt: Event) => void): Configuration;

  /**
   * Calls a function with the stream's first event and passes every event on unchanged.
   * @param callback Given the first event.
   */
  handleStreamStart(callback: (evt: Event) => void): Configuration;

  /**
   * Calls a function with each MessageStart and passes every event on unchanged.
   * @param callback Given each MessageStart.
   */
  handleMessageStart(callback: (start: MessageStart) => void): Configuration;

  /**
   * Calls a function with each Data and passes every event on unchanged.
   * @param callback Given each chunk of Data.
   */
  handleData(callback: (data: Data) => void): Configuration;

  /**
   * Calls a function with each message's whole body once the message has ended, and passes every event on unchanged.
   * @param callback Given the body.
   * @param options Where to cut long bodies.
   */
  handleMessageBody(callback: (body: Data) => void, options?: HandleMessageOptions): Configuration;

  /**
   * Calls a function with each MessageEnd and passes every event on unchanged.
   * @param callback Given each MessageEnd.
   */
  handleMessageEnd(callback: (end: MessageEnd) => void): Configuration;

  /**
   * Calls a function with each whole Message once it has ended, and passes every event on unchanged.
   * @param callback Given the Message.
   * @param options Where to cut long bodies.
   */
  handleMessage(callback: (msg: Message) => void, options?: HandleMessageOptions): Configuration;

  /**
   * Calls a function with the StreamEnd and passes it on.
   * @param callback Given the StreamEnd.
   */
  handleStreamEnd(callback: (end: StreamEnd) => void): Configuration;

  // --- Replacers ------------------------------------------------------------

  /**
   * Replaces every event with what a value or function gives.
   * @param replacement The events to output instead, or a function of each event giving them.
   */
  replace(replacement: OutputEvents | ((evt: Event) => OutputEvents)): Configuration;

  /**
   * Replaces the stream's first event with what a value or function gives; later events pass unchanged.
   * @param replacement The events to output instead, or a function of the first event giving them.
   */
  replaceStreamStart(replacement: OutputEvents | ((evt: Event) => OutputEvents)): Configuration;

  /**
   * Replaces each MessageStart with what a value or function gives.
   * @param replacement The events to output instead, or a function of the MessageStart giving them.
   */
  replaceMessageStart(replacement: OutputEvents | ((start: MessageStart) => OutputEvents)): Configuration;

  /**
   * Replaces each Data with what a value or function gives.
   * @param replacement The events to output instead, or a function of the Data giving them.
   */
  replaceData(replacement: OutputEvents | ((data: Data) => OutputEvents)): Configuration;

  /**
   * Replaces each message's body, gathered whole, with what a value or function gives; the MessageStart and MessageEnd stay.
   * @param replacement The new body (or events), or a function of the old body giving it.
   * @param options Where to cut long bodies.
   */
  replaceMessageBody(replacement: OutputEvents | ((body: Data) => OutputEvents), options?: HandleMessageOptions): Configuration;

  /**
   * Replaces each MessageEnd with what a value or function gives.
   * @param replacement The events to output instead, or a function of the MessageEnd giving them.
   */
  replaceMessageEnd(replacement: OutputEvents | ((end: MessageEnd) => OutputEvents)): Configuration;

  /**
   * Replaces each whole message with what a value or function gives.
   * @param replacement The events to output instead (usually a Message), or a function of the Message giving them.
   * @param options Where to cut long bodies.
   */
  replaceMessage(replacement: OutputEvents | ((msg: Message) => OutputEvents), options?: HandleMessageOptions): Configuration;

  /**
   * Replaces the StreamEnd with what a value or function gives.
   * @param replacement The events to output instead, or a function of the StreamEnd giving them.
   */
  replaceStreamEnd(replacement: OutputEvents | ((end: StreamEnd) => OutputEvents)): Configuration;

  // --- Stream tools ---------------------------------------------------------

  /**
   * Puts events into the stream before its first event.
   * @param events The events, or a function giving them (or a Promise of them).
   */
  insert(events: OutputEvents | (() => OutputEvents | Promise<OutputEvents>)): Configuration;

  /**
   * Makes a stream of its own: at the first input event (inputs are dropped) it outputs what the producer gives; a function is asked again after each answer until it gives a StreamEnd or nothing.
   * @param producer Events, a Promise of them, or a function giving either.
   */
  produce(producer: OutputEvents | Promise<OutputEvents> | (() => OutputEvents | Promise<OutputEvents>)): Configuration;

  /**
   * Holds every event until a condition holds, then lets them and all that follow through.
   * @param condition Asked on each event while waiting; a truthy result, or a Promise that resolves, opens the gate.
   * @param options How long to wait at most.
   */
  wait(condition: () => boolean | Promise<any>, options?: WaitOptions): Configuration;

  /**
   * Cuts a byte stream into Messages at every separator, which is removed.
   * @param separator Text or Data (1 KiB at most), or a function giving it.
   */
  split(separator: string | Data | (() => string | Data)): Configuration;

  /**
   * Combines Messages into one, batch by batch; the result keeps the first message's head and the last one's tail.
   * @param batchSize Messages per batch (1 by default).
   * @param options Time limits and text put around and between the bodies.
   */
  pack(batchSize?: number, options?: PackOptions): Configuration;

  /**
   * A byte-level state machine written in the script: each byte goes to the current state's function, which names the next state and may output events or ask to read a number of bytes.
   * @param states State names mapped to their functions; the first is the initial state.
   */
  deframe(states: Record<string, DeframeState>): Configuration;

  /**
   * Writes a message whose body is over a threshold to a file and reads it back once the message has ended, bounding the memory a large body takes.
   * @param filename The file's path, or a function giving it per message.
   * @param options Bytes to pass on at once, and whether to keep the file.
   */
  depositMessage(filename: string | (() => string), options?: DepositMessageOptions): Configuration;

  /**
   * Writes the stream's Data to a file while passing every event on.
   * @param filename The path (`'-'` for standard output), or a function giving it at the first Data.
   * @param options Appending, sharing and rotation.
   */
  tee(filename: string | (() => string), options?: TeeOptions): Configuration;

  /**
   * At the stream's first event, outputs a file's content as Data followed by the end of the stream; input events are dropped.
   * @param filename The path (`'-'` for standard input), or a function giving it.
   * @param options Where to start and how much to read.
   */
  read(filename: string | (() => string), options?: ReadOptions): Configuration;

  /**
   * Runs a child process per stream: the stream's Data goes to its standard input and its standard output comes out, and the stream ends once it has exited.
   * @param command A command line (split into words as a shell would, but run without one), an array of words, or a function giving either.
   * @param options Environment, standard error handling, and start and exit callbacks.
   */
  exec(command: string | Array<string> | (() => string | Array<string>), options?: ExecOptions): Configuration;

  /**
   * Holds the stream back while a quota of concurrent streams is used up; each stream takes 1 until its pipeline goes.
   * @param quota An `algo.Quota`, or a function giving one at the first event.
   * @param options Whether to stop reading the source while waiting.
   */
  throttleConcurrency(quota: algo.Quota | (() => algo.Quota), options?: ThrottleOptions): Configuration;

  /**
   * Holds Data back while a quota of bytes is used up; each chunk takes its size.
   * @param quota An `algo.Quota`, or a function giving one at the first event.
   * @param options Whether to stop reading the source while waiting.
   */
  throttleDataRate(quota: algo.Quota | (() => algo.Quota), options?: ThrottleOptions): Configuration;

  /**
   * Holds messages back while a quota of messages is used up; each MessageStart takes 1.
   * @param quota An `algo.Quota`, or a function giving one at the first event.
   * @param options Whether to stop reading the source while waiting.
   */
  throttleMessageRate(quota: algo.Quota | (() => algo.Quota), options?: ThrottleOptions): Configuration;

  // --- Compression ----------------------------------------------------------

  /**
   * Compresses the stream's Data as it flows; message boundaries are dropped.
   * @param algorithm `'deflate'` or `'gzip'`, or a function giving one at the first event.
   */
  compress(algorithm: 'deflate' | 'gzip' | (() => 'deflate' | 'gzip')): Configuration;

  /**
   * Decompresses the stream's Data as it flows; message boundaries are dropped and corrupt input ends the stream.
   * @param algorithm `'inflate'`, `'gzip'` or `'brotli'`, or a function giving one at the first event.
   */
  decompress(algorithm: 'inflate' | 'gzip' | 'brotli' | (() => 'inflate' | 'gzip' | 'brotli')): Configuration;

  // --- Protocol codecs ------------------------------------------------------

  /**
   * Decodes WebSocket frames into Messages whose head carries `opcode` and `masked`.
   */
  decodeWebSocket(): Configuration;

  /**
   * Encodes Messages into WebSocket frames, taking `opcode` (1, text, by default) and `masked` from each head.
   */
  encodeWebSocket(): Configuration;

  /**
   * Decodes Redis (RESP) values into Messages whose MessageEnd payload holds the value.
   */
  decodeRESP(): Configuration;

  /**
   * Encodes the MessageEnd payload of each Message as a Redis (RESP) value; bodies are ignored.
   */
  encodeRESP(): Configuration;

  /**
   * Decodes MQTT 3.1.1 and 5 packets into Messages: the fixed and variable header as the head, the payload as the body.
   * @param options The protocol level to assume.
   */
  decodeMQTT(options?: MQTTOptions): Configuration;

  /**
   * Encodes Messages into MQTT packets from their head, body and MessageEnd payload.
   * @param options The protocol level to assume.
   */
  encodeMQTT(options?: MQTTOptions): Configuration;

  /**
   * Decodes Thrift messages (binary, old binary or compact protocol, unframed) into Messages whose MessageEnd payload describes the call.
   */
  decodeThrift(): Configuration;

  /**
   * Encodes the MessageEnd payload of each Message as a Thrift message; bodies are dropped.
   */
  encodeThrift(): Configuration;

  /**
   * Decodes Dubbo frames into Messages whose head carries the frame header and whose body streams as it comes.
   */
  decodeDubbo(): Configuration;

  /**
   * Encodes Messages into Dubbo frames, writing a header from each head.
   */
  encodeDubbo(): Configuration;

  /**
   * Decodes BGP-4 messages into Messages whose MessageEnd payload holds the message type and parsed body.
   * @param options Whether AS numbers take four octets.
   */
  decodeBGP(options?: BGPOptions): Configuration;

  /**
   * Encodes the MessageEnd payload of each Message as a BGP-4 message; bodies are dropped.
   * @param options Whether AS numbers take four octets.
   */
  encodeBGP(options?: BGPOptions): Configuration;

  /**
   * Decodes netlink messages into Messages with a head of `type`, `flags`, `seq` and `pid` and the payload as the body.
   */
  decodeNetlink(): Configuration;

  /**
   * Encodes Messages into netlink messages from their head and body.
   */
  encodeNetlink(): Configuration;

  /**
   * Replaces each `multipart/*` message with one Message per part, whose head holds the part's headers; other messages pass unchanged.
   */
  decodeMultipart(): Configuration;

  /**
   * The server side of FastCGI: turns the records on a connection into one message per request, each given a sub-pipeline of its own (by `to`), and writes the answers back.
   */
  demuxFastCGI(): Configuration;

  /**
   * The client side of FastCGI: requests of many streams share sessions to an application server, one sub-pipeline (given by `to`) per session key.
   * @param key A function giving the session key per stream (by default the inbound connection).
   * @param options Session limits.
   */
  muxFastCGI(key?: () => any, options?: MuxFastCGIOptions): Configuration;
  muxFastCGI(options?: MuxFastCGIOptions): Configuration;

  // --- Utilities ------------------------------------------------------------

  /**
   * Logs every event as it passes, with the worker, context and place in the script.
   * @param tag A label for the log lines, or a function giving it.
   */
  dump(tag?: any): Configuration;

  /**
   * Writes the stream's Data to the log output as text, passing every event on.
   */
  print(): Configuration;

  /**
   * Swallows every event: nothing comes out.
   */
  dummy(): Configuration;
}
