// Declarations of PipyJS's global API: the classes, namespaces and functions a
// script uses. Written for this project's API; read by the console's
// completion and hover help and checked by `tsc` in the tests.
//
// Only what this build's engine provides is declared here. The pipeline
// filters themselves are in configuration.d.ts (`Configuration`).

// ---------------------------------------------------------------------------
// Events and messages
// ---------------------------------------------------------------------------

/** A text encoding that Data converts through: UTF-8 (the default), hex, base64 or unpadded base64url. */
type DataEncoding = 'utf8' | 'utf-8' | 'hex' | 'base64' | 'base64url';

/**
 * A chunk of bytes, as it flows through a pipeline. It is also the event that
 * carries a stream's payload between filters.
 */
declare class Data {
  /**
   * Makes a buffer from text, an array of byte values or another Data; with no
   * argument it is empty.
   * @param source Text, byte values (0 to 255) or a Data to copy.
   * @param encoding How text is turned into bytes; UTF-8 when not given.
   */
  constructor(source?: string | Array<number> | Data, encoding?: DataEncoding);
  /**
   * Makes a buffer like the constructor does, but answers null instead of
   * throwing when the text does not decode.
   * @param source Text, byte values or a Data.
   * @param encoding How text is turned into bytes; UTF-8 when not given.
   * @returns The new Data, or null for text that is not valid in the encoding.
   */
  static from(source: string | Array<number> | Data, encoding?: DataEncoding): Data | null;
  /** The number of bytes held. */
  readonly size: number;
  /** The event's kind, always `'Data'`. */
  readonly type: 'Data';
  /**
   * Appends bytes at the end of this buffer.
   * @param data A Data, text (taken as UTF-8) or byte values to add.
   * @returns This same Data, so calls can be chained.
   */
  push(data: Data | string | Array<number>): Data;
  /**
   * Removes bytes from the front and hands them back.
   * @param count How many bytes to take; everything when not given.
   * @returns A new Data with the bytes taken.
   */
  shift(count?: number): Data;
  /**
   * Removes bytes from the front up to and including the first byte the
   * callback accepts.
   * @param callback Called with each byte value in turn; a truthy answer ends the cut there.
   * @returns A new Data with the bytes taken.
   */
  shiftTo(callback: (byte: number) => boolean): Data;
  /**
   * Removes bytes from the front for as long as the callback accepts them.
   * @param callback Called with each byte value in turn; the first falsy answer stops before that byte.
   * @returns A new Data with the bytes taken.
   */
  shiftWhile(callback: (byte: number) => boolean): Data;
  /**
   * Lists the bytes as numbers.
   * @returns An array with one value from 0 to 255 per byte.
   */
  toArray(): Array<number>;
  /**
   * Reads the bytes as text.
   * @param encoding How the bytes become text; UTF-8 when not given.
   * @returns The text.
   */
  toString(encoding?: DataEncoding): string;
}

/** The event that opens a message, carrying its head. */
declare class MessageStart {
  /**
   * Makes a message start event.
   * @param head The message head, such as an HTTP request or response head; null when not given.
   */
  constructor(head?: any);
  /** The message head; its fields depend on the protocol. */
  head: any;
  /** The event's kind, always `'MessageStart'`. */
  readonly type: 'MessageStart';
}

/** The event that closes a message, carrying its tail and decoded payload. */
declare class MessageEnd {
  /**
   * Makes a message end event.
   * @param tail The message tail (an HTTP message's has `headSize` and `bodySize`); null when not given.
   * @param payload A decoded value some protocols carry with the end of a message.
   */
  constructor(tail?: any, payload?: any);
  /** The message tail; its fields depend on the protocol. */
  tail: any;
  /** The decoded value of protocols that carry one (undefined for HTTP). */
  payload: any;
  /** The event's kind, always `'MessageEnd'`. */
  readonly type: 'MessageEnd';
}

/**
 * A whole message: head, body and tail together. Filters turn it into a
 * MessageStart, Data and a MessageEnd on the way out.
 */
declare class Message {
  /**
   * Makes a message with a body only.
   * @param body The body, as text or Data.
   */
  constructor(body?: string | Data);
  /**
   * Makes a message from its parts.
   * @param head The head (for HTTP, a request or response head); null for none.
   * @param body The body as text or Data; any other value is kept as the message's payload.
   * @param tail The tail; null for none.
   */
  constructor(head: any, body?: any, tail?: any);
  /** The message head, or null. */
  head: any;
  /** The message tail, or null. */
  tail: any;
  /** The body, or null when the message has none. */
  body: Data | null;
  /** A decoded body, for protocols that give one instead of raw bytes. */
  payload: any;
}

/** The event that ends a stream, normally or with an error. */
declare class StreamEnd {
  /**
   * Makes a stream end event.
   * @param error The name of what went wrong, such as `'ConnectionRefused'` or `'ReadTimeout'`; none for a normal end.
   */
  constructor(error?: string);
  /** The error name, or undefined when the stream ended normally. */
  readonly error: string | undefined;
  /** The event's kind, always `'StreamEnd'`. */
  readonly type: 'StreamEnd';
}

/** Any event that flows through a pipeline. */
type Event = Data | MessageStart | MessageEnd | StreamEnd;

// ---------------------------------------------------------------------------
// Configuration entry points
// ---------------------------------------------------------------------------

/**
 * Starts a Configuration (called as a function), and holds functions and
 * facts about the running process. An interface rather than a function and a
 * namespace, because one member is named `import`, a word a namespace member
 * cannot take.
 */
declare const pipy: Pipy;

/** The `pipy` object: a function that starts a Configuration, with members. */
interface Pipy {

  /**
   * Starts a Configuration, with the context variables' initial values. The
   * variables then read like globals in the module's callbacks, one set per stream.
   * @param contextPrototype The context variables and their initial values.
   * @returns A new Configuration to chain pipeline definitions on.
   */
  (contextPrototype?: object): Configuration;
  /**
   * The exports of another module of the codebase, as `import` statements give them.
   * @param filename Path of the module within the codebase.
   * @returns The module's exported names and values.
   */
  import(filename: string): any;

  /**
   * Reads a file of the codebase.
   * @param filename Path of the file within the codebase.
   * @returns The file's bytes, or null when there is no such file.
   */
  load(filename: string): Data | null;
  /**
   * Evaluates a file of the codebase as one expression; each file is
   * evaluated once and its value reused after that.
   * @param filename Path of the file within the codebase.
   * @returns The value of the file's expression.
   */
  solve(filename: string): any;
  /**
   * Waits for a file of the codebase to change; the file is looked at once a second.
   * @param filename Path of the file within the codebase.
   * @returns A Promise that resolves once the content differs from what it was.
   */
  watch(filename: string): Promise<void>;
  /**
   * Lists the codebase's files below a folder, at any depth.
   * @param dirname The folder within the codebase.
   * @returns The file paths found.
   */
  list(dirname: string): Array<string>;
  /**
   * Calls a function in a fresh context, so its context variables start over
   * from their initial values.
   * @param callback The function to run.
   * @returns What the function returns.
   */
  fork(callback: () => any): any;
  /**
   * Stops the process gracefully.
   * @param exitCode The exit status; 0 when not given.
   */
  exit(exitCode?: number): void;
  /**
   * Registers a function to run when the worker stops; a Promise it returns is
   * waited for within the drain time.
   * @param callback Called once as the worker shuts down.
   */
  exit(callback: () => any): void;
  /** Reloads the codebase, replacing the running version with a fresh one. */
  restart(): void;
  /**
   * Makes a folder of the file system appear as `/name/` in the codebase.
   * @param name The top-level name it is seen under.
   * @param dirname The folder on disk.
   */
  mount(name: string, dirname: string): void;
  /**
   * Removes a folder added by `mount`.
   * @param name The name it was mounted under.
   */
  unmount(name: string): void;
  /**
   * Replaces a codebase file's content in memory; every later read sees the
   * new content, a reload included.
   * @param filename Path of the file within the codebase.
   * @param content The new content.
   */
  patch(filename: string, content: string | Data): void;
  /**
   * Runs a program to its end and collects what it printed. The worker waits
   * meanwhile, so keep it for short commands.
   * @param command A command line (split into words as a shell would, without expansion) or the words themselves.
   * @param options Environment, standard input and exit handling.
   * @returns The program's standard output.
   */
  exec(command: string | Array<string>, options?: pipy.ExecOptions): Data;
  /**
   * Tells the time elapsed since the process started.
   * @returns Milliseconds, with fractions.
   */
  now(): number;
  /**
   * Opens a port with a pipeline for each connection; while a module loads
   * its listeners are declared, and once the worker runs the change is made at once.
   * @param port A port number, or `'address:port'`.
   * @param target A pipeline builder or a pipeline value; null (once running) closes the port.
   */
  listen(port: number | string, target: PipelineBuilder | PipelineValue | null): void;
  listen(port: number | string, protocol: 'tcp' | 'udp', target: PipelineBuilder | PipelineValue | null): void;
  listen(port: number | string, options: ListenOptions, target: PipelineBuilder | PipelineValue | null): void;
  listen(port: number | string, protocol: 'tcp' | 'udp', options: ListenOptions, target: PipelineBuilder | PipelineValue | null): void;
  /**
   * Streams a file through a new pipeline, in chunks, and ends the stream
   * after it; what the pipeline outputs is dropped.
   * @param filename A file relative to the working directory, or `'-'` for the standard input.
   * @param builder Lays out the pipeline the file goes through.
   * @returns A Promise that resolves when the pipeline ends, or rejects when the file cannot be opened.
   */
  read(filename: string, builder: PipelineBuilder): Promise<void>;

  /** The process id. */
  readonly pid: number;
  /** The program path, then the arguments given to the script after `--args`. */
  readonly argv: Array<string>;
  /** When the process started, in milliseconds since the Unix epoch. */
  readonly since: number;
  /** The instance name given on the command line. */
  readonly name: string;
  /** The id this instance reports to a repo with. */
  readonly uuid: string;
  /** Where the codebase came from: a script file or a repo URL. */
  readonly source: string;
  /** Version details of this build. */
  readonly version: pipy.Version;
  /** Which worker thread runs this script, and how many there are. */
  readonly thread: pipy.Thread;
  /** A clock in the shape of the browser's `performance` object. */
  readonly performance: pipy.Performance;
  /** The terminal on the standard input. */
  readonly tty: pipy.Terminal;
  /** The inbound connections open on this worker thread. */
  readonly inbound: pipy.InboundConnections;
  /** The outbound connections open on this worker thread. */
  readonly outbound: pipy.OutboundConnections;
}

/** Types of the `pipy` object's arguments and results. */
declare namespace pipy {
  /** Options of `pipy.exec`. */
  interface ExecOptions {
    /** Variables added to the process's environment for the program. */
    env?: Record<string, string>;
    /** What is written to the program's standard input. */
    stdin?: string | Data;
    /** True lets the program's error output through to ours instead of capturing it. */
    stderr?: boolean;
    /** Called when the program ends, with its exit status and the error output captured. */
    onExit?: (code: number, stderr?: Data) => void;
  }

  /** Version details of the build. */
  interface Version {
    /** The version number. */
    readonly tag: string;
    /** The commit it was built from, when known. */
    readonly commit: string;
    /** The build date, when known. */
    readonly date: string;
  }

  /** The worker thread a script runs in. */
  interface Thread {
    /** This thread's index, from 0. */
    readonly id: number;
    /** How many worker threads the process runs. */
    readonly concurrency: number;
  }

  /** A clock in the shape of the browser's `performance`. */
  interface Performance {
    /** When the process started, in milliseconds since the Unix epoch. */
    readonly timeOrigin: number;
    /**
     * Tells the time elapsed since the process started.
     * @returns Milliseconds, with fractions.
     */
    now(): number;
  }

  /** The terminal on the standard input. */
  interface Terminal {
    /** True puts the terminal in raw mode (keys as typed, no echo); it is put back when the process ends. */
    raw: boolean;
  }

  /** The inbound connections open on this worker thread. */
  interface InboundConnections {
    /** How many are open. */
    readonly count: number;
    /**
     * Calls a function for each open inbound connection.
     * @param callback Called with each connection's description.
     */
    forEach(callback: (inbound: Inbound) => void): void;
  }

  /** The outbound connections open on this worker thread. */
  interface OutboundConnections {
    /** How many are open. */
    readonly count: number;
  }
}

/**
 * Makes a pipeline value from a builder, for `pipy.listen`, `pipe` and the like,
 * or to run on its own.
 * @param builder Lays out the pipeline on the `$` it is given.
 * @returns The pipeline value.
 */
declare function pipeline(builder: PipelineBuilder): PipelineValue;

/** Classes that go with `pipeline()`. */
declare namespace pipeline {
  /**
   * A meeting point for streams: each stream that joins it with `swap(hub)`
   * receives what every other member sends.
   */
  class Hub {
    /** Makes an empty hub. */
    constructor();
  }
}

/**
 * A pipeline made by `pipeline(builder)`. It goes wherever a sub-pipeline does
 * (`pipy.listen`, `pipe`, `to`) and can also run on its own.
 */
interface PipelineValue {
  /**
   * Runs the pipeline with a context of its own; its `onStart` receives the arguments.
   * @param args Values handed to the pipeline's start.
   * @returns A Promise that resolves when the pipeline's stream ends.
   */
  spawn(...args: Array<any>): Promise<void>;
  /**
   * Runs the pipeline on given input; the stream ends after it.
   * @param events An event, a Message, an array of them, a function producing them, or a Promise of them.
   * @returns A Promise that resolves when the pipeline's stream ends.
   */
  process(events: Event | Message | Array<Event | Message> | (() => any) | Promise<any>): Promise<void>;
}

/** The inbound connection a pipeline serves, as `__inbound` and `pipy.inbound` give it. */
interface Inbound {
  /** A number that identifies the connection within the process. */
  readonly id: number;
  /** The client's IP address. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  /** The local IP address the connection arrived on. */
  readonly localAddress: string;
  /** The local port the connection arrived on. */
  readonly localPort: number;
  /** Where a transparently redirected connection was going; empty otherwise. */
  readonly destinationAddress: string;
  /** The original port of a transparently redirected connection; 0 otherwise. */
  readonly destinationPort: number;
}

/** The inbound connection of the current stream, or null outside one. */
declare const __inbound: Inbound | null;

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/** Writing to the process log, each call at its own level. */
declare namespace console {
  /**
   * Logs values at the info level, separated by spaces.
   * @param values Strings print as they are, other values in a readable form.
   */
  function log(...values: Array<any>): void;
  /**
   * Logs values at the info level.
   * @param values What to log.
   */
  function info(...values: Array<any>): void;
  /**
   * Logs values at the debug level; nothing shows unless the log level allows it.
   * @param values What to log.
   */
  function debug(...values: Array<any>): void;
  /**
   * Logs values at the warning level.
   * @param values What to log.
   */
  function warn(...values: Array<any>): void;
  /**
   * Logs values at the error level.
   * @param values What to log.
   */
  function error(...values: Array<any>): void;
}

/**
 * Writes values to the standard output as `console.log` shows them, without a
 * header and without a line break.
 * @param values What to write.
 */
declare function print(...values: Array<any>): void;

/**
 * Writes values to the standard output as `console.log` shows them, without a
 * header, then a line break.
 * @param values What to write.
 */
declare function println(...values: Array<any>): void;

// ---------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------

/** The standard JSON object, with conversions to and from Data added. */
interface JSON {
  /**
   * Parses JSON held in a Data.
   * @param data The JSON text's bytes.
   * @param reviver Optionally transforms each value as it is read.
   * @returns The value.
   */
  decode(data: Data, reviver?: (key: string, value: any) => any): any;
  /**
   * Writes a value as JSON into a new Data.
   * @param value What to write.
   * @param replacer Optionally transforms each value as it is written.
   * @param space Indentation, as for `JSON.stringify`.
   * @returns The JSON text's bytes.
   */
  encode(value: any, replacer?: ((key: string, value: any) => any) | null, space?: number | string): Data;
  /**
   * Parses JSON text.
   * @param text The JSON text.
   * @param reviver Optionally transforms each value as it is read.
   * @returns The value.
   */
  parse(text: string, reviver?: (key: string, value: any) => any): any;
  /**
   * Writes a value as JSON text.
   * @param value What to write.
   * @param replacer Optionally transforms each value as it is written.
   * @param space Indentation: a number of spaces or the text to indent with.
   * @returns The JSON text.
   */
  stringify(value: any, replacer?: ((key: string, value: any) => any) | null, space?: number | string): string;
}

/** Conversions between YAML and script values. */
declare namespace YAML {
  /**
   * Parses YAML text; plain scalars become numbers, booleans or null where the YAML 1.2 core schema says so.
   * @param text The YAML text.
   * @param reviver Optionally transforms each value as it is read.
   * @returns The value.
   */
  function parse(text: string, reviver?: (key: string, value: any) => any): any;
  /**
   * Writes a value as YAML text.
   * @param value What to write.
   * @param replacer Optionally transforms each value as it is written.
   * @returns The YAML text.
   */
  function stringify(value: any, replacer?: (key: string, value: any) => any): string;
  /**
   * Parses YAML held in a Data.
   * @param data The YAML text's bytes.
   * @param reviver Optionally transforms each value as it is read.
   * @returns The value, or null when no data is given.
   */
  function decode(data: Data | null, reviver?: (key: string, value: any) => any): any;
  /**
   * Writes a value as YAML into a new Data.
   * @param value What to write.
   * @param replacer Optionally transforms each value as it is written.
   * @returns The YAML text's bytes.
   */
  function encode(value: any, replacer?: (key: string, value: any) => any): Data;
}

/** Conversions between XML and trees of `XML.Node`. */
declare namespace XML {
  /**
   * An element of an XML document. A parsed document is a node with an empty
   * name whose only child is the root element.
   */
  class Node {
    /**
     * Makes an element.
     * @param name The tag name.
     * @param attributes The attributes by name; null for none.
     * @param children Child elements and text, in order; null for none.
     */
    constructor(name: string, attributes?: Record<string, string> | null, children?: Array<XML.Node | string> | null);
    /** The tag name; empty for a document node. */
    readonly name: string;
    /** The attributes by name, or null when there are none. */
    readonly attributes: Record<string, string> | null;
    /** Child elements and text runs, in order, or null. */
    readonly children: Array<XML.Node | string> | null;
  }
  /**
   * Parses XML text; comments, processing instructions and the declaration are left out.
   * @param text The XML text.
   * @returns The document node, or null for malformed input.
   */
  function parse(text: string): XML.Node | null;
  /**
   * Parses XML held in a Data.
   * @param data The XML text's bytes.
   * @returns The document node, or null for malformed input.
   */
  function decode(data: Data): XML.Node | null;
  /**
   * Writes a document node's root element as XML text; text holding markup characters is written as CDATA.
   * @param doc The document node.
   * @param space Spaces to indent each level with, from 0 to 10.
   * @returns The XML text.
   */
  function stringify(doc: XML.Node, space?: number): string;
  /**
   * Writes a document node as XML into a new Data.
   * @param doc The document node.
   * @param space Spaces to indent each level with, from 0 to 10.
   * @returns The XML text's bytes, or null when no node is given.
   */
  function encode(doc: XML.Node | null, space?: number): Data | null;
}

/** The Hessian 2 serialization Dubbo uses. */
declare namespace Hessian {
  /**
   * Reads every value in the data, stopping quietly at malformed input. Ints and
   * longs come back as `Int`, binary as Data, and lists, maps and objects as
   * `{ kind, type, elements }`.
   * @param data The encoded bytes.
   * @returns The values read, in order.
   */
  function decode(data: Data): Array<any>;
  /**
   * Writes values in Hessian form; an array's elements are written one after another.
   * @param value A value, or an array of values; plain numbers are doubles and `Int` keeps its width.
   * @returns The encoded bytes.
   */
  function encode(value: any): Data;
}

/** DNS messages in their wire format. */
declare namespace DNS {
  /** A DNS message; header flags are left out when 0 and sections when empty. */
  interface Message {
    /** The query id. */
    id?: number;
    /** 1 for a response, absent for a query. */
    qr?: number;
    /** The kind of query. */
    opcode?: number;
    /** The authoritative answer flag. */
    aa?: number;
    /** The truncation flag. */
    tc?: number;
    /** The recursion desired flag. */
    rd?: number;
    /** The recursion available flag. */
    ra?: number;
    /** The reserved bits. */
    zero?: number;
    /** The response code. */
    rcode?: number;
    /** The questions asked. */
    question?: Array<DNS.Question>;
    /** The answer records. */
    answer?: Array<DNS.ResourceRecord>;
    /** The authority records. */
    authority?: Array<DNS.ResourceRecord>;
    /** The additional records. */
    additional?: Array<DNS.ResourceRecord>;
  }
  /** A question of a DNS message. */
  interface Question {
    /** The domain name asked about. */
    name: string;
    /** The record type, by name (`'A'`, `'AAAA'`, ...) or number. */
    type: string | number;
    /** The class, given only when it is not IN. */
    class?: number;
  }
  /** A resource record of a DNS message. */
  interface ResourceRecord {
    /** The domain name the record is about. */
    name: string;
    /** The record type, by name (`'A'`, `'CNAME'`, ...) or number. */
    type: string | number;
    /** The class, given only when it is not IN. */
    class?: number;
    /** How long the record may be cached, in seconds. */
    ttl: number;
    /** The data: an address, a name, the text of a TXT, an object for SOA, MX and SRV, or hex bytes for other types. */
    rdata?: string | DNS.SOA | DNS.MX | DNS.SRV;
  }
  /** The data of an SOA record. */
  interface SOA {
    /** The primary name server. */
    mname: string;
    /** The mailbox of the person responsible. */
    rname: string;
    /** The zone's serial number. */
    serial: number;
    /** Seconds before secondaries refresh. */
    refresh: number;
    /** Seconds before a failed refresh is retried. */
    retry: number;
    /** Seconds after which the zone is no longer authoritative. */
    expire: number;
    /** The minimum time to live, in seconds. */
    minimum: number;
  }
  /** The data of an MX record. */
  interface MX {
    /** Lower values are preferred. */
    preference: number;
    /** The mail server's name. */
    exchange: string;
  }
  /** The data of an SRV record. */
  interface SRV {
    /** Lower values are tried first. */
    priority: number;
    /** The relative weight among records of equal priority. */
    weight: number;
    /** The service's port. */
    port: number;
    /** The host name of the service. */
    target: string;
  }
  /**
   * Reads a DNS message; malformed input throws.
   * @param data The message's bytes.
   * @returns The message, or null when the argument is not a Data.
   */
  function decode(data: Data): DNS.Message | null;
  /**
   * Writes a DNS message.
   * @param message The message, in the form `decode` gives.
   * @returns The message's bytes.
   */
  function encode(message: DNS.Message): Data;
}

/**
 * Protocol Buffers without a schema: a message is a set of numbered fields whose
 * values are read and written through typed accessors.
 */
declare namespace protobuf {
  /**
   * Reads a message; nested messages and packed values are read when asked for.
   * @param data The encoded bytes.
   * @returns The message, or null for null or malformed input.
   */
  function decode(data: Data | null): protobuf.Message | null;
  /**
   * Writes a message, its fields in ascending order.
   * @param message The message.
   * @returns The encoded bytes, or null for null.
   */
  function encode(message: protobuf.Message | null): Data | null;

  /** A Protocol Buffers message: for each field number, the records seen for it. */
  class Message {
    /** Makes an empty message. */
    constructor();
    /**
     * Reads a field's last value as a 32-bit float.
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getFloat(field: number): number;
    /**
     * Reads every value of a field as a 32-bit float, packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getFloatArray(field: number): Array<number> | null;
    /**
     * Replaces a field with one value written as a 32-bit float.
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setFloat(field: number, value: number): protobuf.Message;
    /**
     * Replaces a field with values written packed as a 32-bit float.
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setFloatArray(field: number, values: Array<number>): protobuf.Message;
    /**
     * Reads a field's last value as a 64-bit float.
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getDouble(field: number): number;
    /**
     * Reads every value of a field as a 64-bit float, packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getDoubleArray(field: number): Array<number> | null;
    /**
     * Replaces a field with one value written as a 64-bit float.
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setDouble(field: number, value: number): protobuf.Message;
    /**
     * Replaces a field with values written packed as a 64-bit float.
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setDoubleArray(field: number, values: Array<number>): protobuf.Message;
    /**
     * Reads a field's last value as an int32 (a plain varint, negatives sign-extended).
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getInt32(field: number): number;
    /**
     * Reads every value of a field as an int32 (a plain varint, negatives sign-extended), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getInt32Array(field: number): Array<number> | null;
    /**
     * Replaces a field with one value written as an int32 (a plain varint, negatives sign-extended).
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setInt32(field: number, value: number): protobuf.Message;
    /**
     * Replaces a field with values written packed as an int32 (a plain varint, negatives sign-extended).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setInt32Array(field: number, values: Array<number>): protobuf.Message;
    /**
     * Reads a field's last value as an int64 (a plain varint). Values beyond 2^53 come back as a BigInt.
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getInt64(field: number): number | bigint;
    /**
     * Reads every value of a field as an int64 (a plain varint), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getInt64Array(field: number): Array<number | bigint> | null;
    /**
     * Replaces a field with one value written as an int64 (a plain varint).
     * @param field The field number.
     * @param value The value. A BigInt keeps all 64 bits.
     * @returns This message.
     */
    setInt64(field: number, value: number | bigint): protobuf.Message;
    /**
     * Replaces a field with values written packed as an int64 (a plain varint).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setInt64Array(field: number, values: Array<number | bigint>): protobuf.Message;
    /**
     * Reads a field's last value as a uint32 (a plain varint).
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getUint32(field: number): number;
    /**
     * Reads every value of a field as a uint32 (a plain varint), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getUint32Array(field: number): Array<number> | null;
    /**
     * Replaces a field with one value written as a uint32 (a plain varint).
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setUint32(field: number, value: number): protobuf.Message;
    /**
     * Replaces a field with values written packed as a uint32 (a plain varint).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setUint32Array(field: number, values: Array<number>): protobuf.Message;
    /**
     * Reads a field's last value as a uint64 (a plain varint). Values beyond 2^53 come back as a BigInt.
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getUint64(field: number): number | bigint;
    /**
     * Reads every value of a field as a uint64 (a plain varint), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getUint64Array(field: number): Array<number | bigint> | null;
    /**
     * Replaces a field with one value written as a uint64 (a plain varint).
     * @param field The field number.
     * @param value The value. A BigInt keeps all 64 bits.
     * @returns This message.
     */
    setUint64(field: number, value: number | bigint): protobuf.Message;
    /**
     * Replaces a field with values written packed as a uint64 (a plain varint).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setUint64Array(field: number, values: Array<number | bigint>): protobuf.Message;
    /**
     * Reads a field's last value as a sint32 (a zigzag varint).
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getSint32(field: number): number;
    /**
     * Reads every value of a field as a sint32 (a zigzag varint), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getSint32Array(field: number): Array<number> | null;
    /**
     * Replaces a field with one value written as a sint32 (a zigzag varint).
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setSint32(field: number, value: number): protobuf.Message;
    /**
     * Replaces a field with values written packed as a sint32 (a zigzag varint).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setSint32Array(field: number, values: Array<number>): protobuf.Message;
    /**
     * Reads a field's last value as a sint64 (a zigzag varint). Values beyond 2^53 come back as a BigInt.
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getSint64(field: number): number | bigint;
    /**
     * Reads every value of a field as a sint64 (a zigzag varint), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getSint64Array(field: number): Array<number | bigint> | null;
    /**
     * Replaces a field with one value written as a sint64 (a zigzag varint).
     * @param field The field number.
     * @param value The value. A BigInt keeps all 64 bits.
     * @returns This message.
     */
    setSint64(field: number, value: number | bigint): protobuf.Message;
    /**
     * Replaces a field with values written packed as a sint64 (a zigzag varint).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setSint64Array(field: number, values: Array<number | bigint>): protobuf.Message;
    /**
     * Reads every value of a field as a fixed32 (four bytes, unsigned), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getFixed32Array(field: number): Array<number> | null;
    /**
     * Replaces a field with one value written as a fixed32 (four bytes, unsigned).
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setFixed32(field: number, value: number): protobuf.Message;
    /**
     * Replaces a field with values written packed as a fixed32 (four bytes, unsigned).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setFixed32Array(field: number, values: Array<number>): protobuf.Message;
    /**
     * Reads every value of a field as a fixed64 (eight bytes, unsigned), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getFixed64Array(field: number): Array<number | bigint> | null;
    /**
     * Replaces a field with one value written as a fixed64 (eight bytes, unsigned).
     * @param field The field number.
     * @param value The value. A BigInt keeps all 64 bits.
     * @returns This message.
     */
    setFixed64(field: number, value: number | bigint): protobuf.Message;
    /**
     * Replaces a field with values written packed as a fixed64 (eight bytes, unsigned).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setFixed64Array(field: number, values: Array<number | bigint>): protobuf.Message;
    /**
     * Reads every value of a field as an sfixed32 (four bytes, signed), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getSfixed32Array(field: number): Array<number> | null;
    /**
     * Replaces a field with one value written as an sfixed32 (four bytes, signed).
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setSfixed32(field: number, value: number): protobuf.Message;
    /**
     * Replaces a field with values written packed as an sfixed32 (four bytes, signed).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setSfixed32Array(field: number, values: Array<number>): protobuf.Message;
    /**
     * Reads every value of a field as an sfixed64 (eight bytes, signed), packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getSfixed64Array(field: number): Array<number | bigint> | null;
    /**
     * Replaces a field with one value written as an sfixed64 (eight bytes, signed).
     * @param field The field number.
     * @param value The value. A BigInt keeps all 64 bits.
     * @returns This message.
     */
    setSfixed64(field: number, value: number | bigint): protobuf.Message;
    /**
     * Replaces a field with values written packed as an sfixed64 (eight bytes, signed).
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setSfixed64Array(field: number, values: Array<number | bigint>): protobuf.Message;
    /**
     * Reads a field's last value as a bool.
     * @param field The field number.
     * @returns The value; 0 (false for bool) when the field is absent.
     */
    getBool(field: number): boolean;
    /**
     * Reads every value of a field as a bool, packed or not.
     * @param field The field number.
     * @returns The values, or null when a packed run is malformed.
     */
    getBoolArray(field: number): Array<boolean> | null;
    /**
     * Replaces a field with one value written as a bool.
     * @param field The field number.
     * @param value The value.
     * @returns This message.
     */
    setBool(field: number, value: boolean): protobuf.Message;
    /**
     * Replaces a field with values written packed as a bool.
     * @param field The field number.
     * @param values The values.
     * @returns This message.
     */
    setBoolArray(field: number, values: Array<boolean>): protobuf.Message;
    /**
     * Names the wire type of a field's last record.
     * @param field The field number.
     * @returns `'VARINT'`, `'I64'`, `'LEN'` or `'I32'`; empty when the field is absent.
     */
    getWireType(field: number): string;
    /**
     * Reads a field's last value as UTF-8 text.
     * @param field The field number.
     * @returns The text, or undefined when the field is absent or not length-delimited.
     */
    getString(field: number): string | undefined;
    /**
     * Reads a field's last value as bytes.
     * @param field The field number.
     * @returns The bytes, or null when the field is absent or not length-delimited.
     */
    getBytes(field: number): Data | null;
    /**
     * Reads a field's last value as a nested message.
     * @param field The field number.
     * @returns The message, or null when the field is absent or does not hold one.
     */
    getMessage(field: number): protobuf.Message | null;
    /**
     * Reads every value of a field as UTF-8 text.
     * @param field The field number.
     * @returns The texts, in order.
     */
    getStringArray(field: number): Array<string>;
    /**
     * Reads every value of a field as bytes.
     * @param field The field number.
     * @returns The values, in order.
     */
    getBytesArray(field: number): Array<Data>;
    /**
     * Reads every value of a field as a nested message.
     * @param field The field number.
     * @returns The messages, or null when any value does not hold a well-formed one.
     */
    getMessageArray(field: number): Array<protobuf.Message> | null;
    /**
     * Replaces a field with one text value.
     * @param field The field number.
     * @param value The text, written as UTF-8.
     * @returns This message.
     */
    setString(field: number, value: string): protobuf.Message;
    /**
     * Replaces a field with one bytes value.
     * @param field The field number.
     * @param value The bytes.
     * @returns This message.
     */
    setBytes(field: number, value: Data): protobuf.Message;
    /**
     * Replaces a field with a nested message, encoded as it is now (later changes to it are not seen).
     * @param field The field number.
     * @param value The nested message.
     * @returns This message.
     */
    setMessage(field: number, value: protobuf.Message): protobuf.Message;
    /**
     * Replaces a field with one record per text.
     * @param field The field number.
     * @param values The texts.
     * @returns This message.
     */
    setStringArray(field: number, values: Array<string>): protobuf.Message;
    /**
     * Replaces a field with one record per bytes value.
     * @param field The field number.
     * @param values The bytes values.
     * @returns This message.
     */
    setBytesArray(field: number, values: Array<Data>): protobuf.Message;
    /**
     * Replaces a field with one record per nested message.
     * @param field The field number.
     * @param values The nested messages.
     * @returns This message.
     */
    setMessageArray(field: number, values: Array<protobuf.Message>): protobuf.Message;
  }
}

/** Integer widths an `Int` can have: signed or unsigned, 8 to 64 bits. */
type IntType = 'i8' | 'i16' | 'i32' | 'i64' | 'u8' | 'u16' | 'u32' | 'u64';

/**
 * An integer of a fixed width (up to 64 bits) that keeps its width, as
 * Hessian and Dubbo need. Arithmetic goes through its number value.
 */
declare class Int {
  /**
   * Makes a 64-bit signed integer.
   * @param value A number, decimal text, a BigInt or another Int to copy; 0 when not given.
   */
  constructor(value?: number | string | bigint | Int);
  /**
   * Makes an integer of a given width.
   * @param type The width and signedness.
   * @param value A number, text, BigInt, Int, or byte values with the lowest first.
   */
  constructor(type: IntType, value?: number | string | bigint | Int | Array<number>);
  /**
   * Makes an integer of a given width from its two 32-bit halves.
   * @param type The width and signedness.
   * @param low The low 32 bits.
   * @param high The high 32 bits.
   */
  constructor(type: IntType, low: number, high: number);
  /**
   * Makes an unsigned integer from byte values, lowest first; its width follows the count.
   * @param bytes One to eight byte values.
   */
  constructor(bytes: Array<number>);
  /**
   * Makes a 64-bit signed integer from its two 32-bit halves.
   * @param low The low 32 bits.
   * @param high The high 32 bits.
   */
  constructor(low: number, high: number);
  /**
   * Reads an integer from text.
   * @param text Digits, with an optional sign.
   * @param base The radix, 10 when not given.
   * @returns A 64-bit signed Int, or null when the text has a digit the base does not.
   */
  static parse(text: string, base?: number): Int | null;
  /** The width and signedness. */
  readonly type: IntType;
  /** The width in bits. */
  readonly width: number;
  /** True for the unsigned types. */
  readonly isUnsigned: boolean;
  /** The low 32 bits, as an unsigned number. */
  readonly low: number;
  /** The bits above the low 32, signed for signed types. */
  readonly high: number;
  /**
   * Lists the integer's bytes.
   * @returns One value per byte of its width, lowest first.
   */
  toBytes(): Array<number>;
  /**
   * Gives the value as a plain number (exact up to 2^53).
   * @returns The number.
   */
  valueOf(): number;
  /**
   * Writes the value exactly.
   * @param radix The base to write in; 10 when not given.
   * @returns The digits.
   */
  toString(radix?: number): string;
}

// ---------------------------------------------------------------------------
// Networking helpers
// ---------------------------------------------------------------------------

/** An IPv4 or IPv6 address block in CIDR form. */
declare class Netmask {
  /**
   * Reads a block in CIDR notation; an address without a mask is a block of one.
   * @param cidr Such as `'10.0.0.0/8'` or `'2001:db8::/32'`.
   */
  constructor(cidr: string);
  /**
   * Makes a block from a mask length and address bytes.
   * @param bitmask The number of leading bits in the network part.
   * @param bytes Four bytes for IPv4, or sixteen for IPv6.
   */
  constructor(bitmask: number, bytes: Array<number>);
  /** 4 or 6. */
  readonly version: number;
  /** The address as it was given. */
  readonly ip: string;
  /** The length of the network part in bits. */
  readonly bitmask: number;
  /** The network address: the first address of the block. */
  readonly base: string;
  /** The network mask, as an address. */
  readonly mask: string;
  /** The host part's mask, as an address. */
  readonly hostmask: string;
  /** The last address of the block. */
  readonly broadcast: string;
  /** How many addresses the block spans. */
  readonly size: number;
  /** The first host address. */
  readonly first: string;
  /** The last host address. */
  readonly last: string;
  /**
   * Tells whether an address is inside the block.
   * @param address An address of the same IP version.
   * @returns True when it is inside.
   */
  contains(address: string): boolean;
  /**
   * Splits the given address into its parts.
   * @returns Four bytes for IPv4, eight 16-bit groups for IPv6.
   */
  decompose(): Array<number>;
  /**
   * Lists the given address's bytes.
   * @returns Four values for IPv4, sixteen for IPv6.
   */
  toBytes(): Array<number>;
  /**
   * Hands out the block's host addresses one by one.
   * @returns The next address, or an empty string once they are used up.
   */
  next(): string;
}

/** A URL taken apart; a URL without a scheme is taken as `http:`. */
declare class URL {
  /**
   * Parses a URL.
   * @param url The URL, absolute or relative to `base`.
   * @param base The URL a relative one is resolved against.
   */
  constructor(url: string, base?: string);
  /** The scheme with its colon, such as `'https:'`. */
  protocol: string;
  /** The user name, or empty. */
  username: string;
  /** The password, or empty. */
  password: string;
  /** The host name without the port. */
  hostname: string;
  /** The port, or the scheme's default one when the URL names none. */
  port: string;
  /** The path, `'/'` at least. */
  pathname: string;
  /** The query with its `?`, or empty. */
  search: string;
  /** The fragment with its `#`, or empty. */
  hash: string;
  /** The query's parameters. */
  searchParams: URLSearchParams;
  /** The host name with the port, when the URL names one. */
  readonly host: string;
  /** The scheme and the host. */
  readonly origin: string;
  /** The user name and password joined by a colon, or empty. */
  readonly auth: string;
  /** The path with the query. */
  readonly path: string;
  /** The query without its `?`. */
  readonly query: string;
  /** The whole URL. */
  readonly href: string;
  /**
   * Gives the whole URL.
   * @returns The same as `href`.
   */
  toString(): string;
  /**
   * Gives the whole URL, so that JSON writes it as text.
   * @returns The same as `href`.
   */
  toJSON(): string;
}

/** The parameters of a URL query, in order; a name may repeat. */
declare class URLSearchParams {
  /**
   * Reads parameters from a query or an object; only `%XX` escapes are decoded, a `+` stays a `+`.
   * @param init Query text (a leading `?` is skipped), or values by name.
   */
  constructor(init?: string | Record<string, any>);
  /**
   * Gives the first value of a name.
   * @param name The parameter name.
   * @returns The value, or null when the name is absent.
   */
  get(name: string): string | null;
  /**
   * Gives every value of a name.
   * @param name The parameter name.
   * @returns The values, in order.
   */
  getAll(name: string): Array<string>;
  /**
   * Tells whether a name is present.
   * @param name The parameter name.
   * @returns True when it is.
   */
  has(name: string): boolean;
  /**
   * Replaces a name's values, keeping its place.
   * @param name The parameter name.
   * @param value One value, an array for one entry each, or null to remove the name.
   */
  set(name: string, value: any): void;
  /**
   * Adds one more value for a name at the end.
   * @param name The parameter name.
   * @param value The value.
   */
  append(name: string, value: any): void;
  /**
   * Removes every value of a name.
   * @param name The parameter name.
   */
  delete(name: string): void;
  /**
   * Gives the parameters as an object.
   * @returns Values by name; a name with several values has an array.
   */
  toObject(): Record<string, string | Array<string>>;
  /**
   * Writes the parameters as query text, escaped, without a `?`.
   * @returns The query text.
   */
  toString(): string;
}

/**
 * A timer that starts when it is made. Its `wait()` gives a Promise that
 * settles when it fires or is canceled.
 */
declare class Timeout {
  /**
   * Makes and starts a timer.
   * @param seconds How long until it fires.
   */
  constructor(seconds: number);
  /**
   * Waits for the timer.
   * @returns A Promise that resolves with this Timeout when it fires, or rejects with it when canceled.
   */
  wait(): Promise<Timeout>;
  /**
   * Starts the timer over.
   * @param seconds A new duration; the previous one when not given.
   */
  restart(seconds?: number): void;
  /** Stops the timer; waiting Promises are rejected. */
  cancel(): void;
}

// ---------------------------------------------------------------------------
// algo
// ---------------------------------------------------------------------------

/** Algorithms: hashing, caching, quotas, routing and load balancing. */
declare namespace algo {
  /**
   * Hashes any value to a number; objects hash by their displayed form.
   * @param value What to hash.
   * @returns A non-negative integer that fits a number exactly.
   */
  function hash(value: any): number;
  /**
   * Makes a random (version 4) UUID.
   * @returns The UUID as text.
   */
  function uuid(): string;

  /** A key-value store that can make missing entries, forget the least recently used ones and let entries expire. */
  class Cache {
    /**
     * Makes a cache.
     * @param onAllocate Makes the value for a key that `get` does not find.
     * @param onFree Called with the key and value of each entry that goes.
     * @param options `size` caps the number of entries; `ttl` is an entry's lifetime, in seconds or text with a unit.
     */
    constructor(
      onAllocate?: ((key: any) => any) | null,
      onFree?: ((key: any, value: any) => void) | null,
      options?: { size?: number; ttl?: number | string }
    );
    /**
     * Looks up an entry, making it with `onAllocate` when it is missing.
     * @param key The key.
     * @returns The value, or undefined.
     */
    get(key: any): any;
    /**
     * Looks up an entry without making one.
     * @param key The key.
     * @returns The value, or undefined.
     */
    find(key: any): any;
    /**
     * Adds or replaces an entry.
     * @param key The key.
     * @param value The value.
     */
    set(key: any, value: any): void;
    /**
     * Removes an entry.
     * @param key The key.
     * @returns True when there was one.
     */
    remove(key: any): boolean;
    /** Removes every entry. */
    clear(): void;
  }

  /**
   * An amount that streams use up and that comes back, for the throttle filters.
   * Quotas made with the same key share one amount across worker threads.
   */
  class Quota {
    /**
     * Makes a quota.
     * @param initial The starting amount.
     * @param options `key` shares the amount; `per` is the refill period (seconds or text with a unit); `produce` is added each period (without it the amount goes back to `initial`); `max` caps the amount.
     */
    constructor(initial: number, options?: { key?: string; max?: number; per?: number | string; produce?: number });
    /** The starting amount. */
    readonly initial: number;
    /** The amount left now. */
    readonly current: number;
    /** Puts the amount back to its starting value. */
    reset(): void;
    /**
     * Gives some amount back, capped at `max`, and wakes waiting streams.
     * @param value How much to add.
     */
    produce(value: number): void;
    /**
     * Takes up to the amount asked for.
     * @param value How much is wanted.
     * @returns How much was taken.
     */
    consume(value: number): number;
  }

  /**
   * Maps URL patterns (an optional host, then a path) to values. A path ending
   * in `/*` matches everything below it, and a host may start with `*.`.
   */
  class URLRouter {
    /**
     * Makes a router.
     * @param routes Values by pattern.
     */
    constructor(routes?: Record<string, any>);
    /**
     * Adds a route.
     * @param pattern Such as `'/api/*'` or `'example.com/login'`.
     * @param value What `find` gives for it.
     */
    add(pattern: string, value: any): void;
    /**
     * Finds the best route: exact hosts before wildcards, exact paths before prefixes, deeper before shallower.
     * @param parts One URL (host optional, then the path), or a host followed by path segments.
     * @returns The route's value, or undefined.
     */
    find(...parts: Array<string>): any;
  }

  /** A target handed out by the simple load balancers, held until it is freed. */
  interface BorrowedTarget {
    /** The target's name. */
    readonly id: string;
    /** Gives the target back. */
    free(): void;
  }

  /** A load balancer that takes targets in turn, by weight. */
  class RoundRobinLoadBalancer {
    /**
     * Makes a load balancer.
     * @param targets Target names, or weights by name.
     * @param unhealthy A cache in which targets to skip have a truthy value.
     */
    constructor(targets: Array<string> | Record<string, number>, unhealthy?: algo.Cache);
    /**
     * Picks a target; a borrower that already holds one gets it back.
     * @param borrower Who holds the target; the current inbound connection by default.
     * @param tag A key for targets chosen by hash.
     * @param unhealthy A cache of targets to skip, instead of the one given to the constructor.
     * @returns The target, or null when none is eligible.
     */
    next(borrower?: any, tag?: any, unhealthy?: algo.Cache): algo.BorrowedTarget | null;
    /**
     * Does the same as `next`.
     * @param borrower Who holds the target.
     * @param tag A key for targets chosen by hash.
     * @param unhealthy A cache of targets to skip.
     * @returns The target, or null when none is eligible.
     */
    borrow(borrower?: any, tag?: any, unhealthy?: algo.Cache): algo.BorrowedTarget | null;
    /**
     * Picks a target and gives its name only.
     * @param tag A key for targets chosen by hash.
     * @param unhealthy A cache of targets to skip.
     * @returns The target's name, or undefined when none is eligible.
     */
    select(tag?: any, unhealthy?: algo.Cache): string | undefined;
    /**
     * Adds a target or changes its weight.
     * @param target The target's name.
     * @param weight Its weight; 1 when not given, 0 never chosen.
     */
    set(target: string, weight?: number): void;
    /**
     * Adds a target with weight 1.
     * @param target The target's name.
     */
    add(target: string): void;
  }

  /** A load balancer that picks the target with the least work per weight. */
  class LeastWorkLoadBalancer {
    /**
     * Makes a load balancer.
     * @param targets Target names, or weights by name.
     * @param unhealthy A cache in which targets to skip have a truthy value.
     */
    constructor(targets: Array<string> | Record<string, number>, unhealthy?: algo.Cache);
    /**
     * Picks a target; a borrower that already holds one gets it back.
     * @param borrower Who holds the target; the current inbound connection by default.
     * @param tag A key for targets chosen by hash.
     * @param unhealthy A cache of targets to skip, instead of the one given to the constructor.
     * @returns The target, or null when none is eligible.
     */
    next(borrower?: any, tag?: any, unhealthy?: algo.Cache): algo.BorrowedTarget | null;
    /**
     * Does the same as `next`.
     * @param borrower Who holds the target.
     * @param tag A key for targets chosen by hash.
     * @param unhealthy A cache of targets to skip.
     * @returns The target, or null when none is eligible.
     */
    borrow(borrower?: any, tag?: any, unhealthy?: algo.Cache): algo.BorrowedTarget | null;
    /**
     * Picks a target and gives its name only.
     * @param tag A key for targets chosen by hash.
     * @param unhealthy A cache of targets to skip.
     * @returns The target's name, or undefined when none is eligible.
     */
    select(tag?: any, unhealthy?: algo.Cache): string | undefined;
    /**
     * Adds a target or changes its weight.
     * @param target The target's name.
     * @param weight Its weight; 1 when not given, 0 never chosen.
     */
    set(target: string, weight?: number): void;
    /**
     * Adds a target with weight 1.
     * @param target The target's name.
     */
    add(target: string): void;
  }

  /** A load balancer that picks a target by the hash of a key, so a key keeps its target. */
  class HashingLoadBalancer {
    /**
     * Makes a load balancer; weights given are ignored.
     * @param targets Target names, or an object whose keys are the names.
     * @param unhealthy A cache in which targets to skip have a truthy value.
     */
    constructor(targets: Array<string> | Record<string, number>, unhealthy?: algo.Cache);
    /**
     * Picks the target for a key; a borrower that already holds one gets it back.
     * @param borrower Who holds the target; the current inbound connection by default.
     * @param tag The key whose hash chooses the target.
     * @param unhealthy A cache of targets to skip, instead of the one given to the constructor.
     * @returns The target, or null when none is eligible.
     */
    next(borrower?: any, tag?: any, unhealthy?: algo.Cache): algo.BorrowedTarget | null;
    /**
     * Does the same as `next`.
     * @param borrower Who holds the target.
     * @param tag The key whose hash chooses the target.
     * @param unhealthy A cache of targets to skip.
     * @returns The target, or null when none is eligible.
     */
    borrow(borrower?: any, tag?: any, unhealthy?: algo.Cache): algo.BorrowedTarget | null;
    /**
     * Picks the target for a key and gives its name only.
     * @param tag The key whose hash chooses the target.
     * @param unhealthy A cache of targets to skip.
     * @returns The target's name, or undefined when none is eligible.
     */
    select(tag?: any, unhealthy?: algo.Cache): string | undefined;
    /**
     * Adds a target.
     * @param target The target's name.
     * @param weight Accepted for symmetry with the other balancers.
     */
    set(target: string, weight?: number): void;
    /**
     * Adds a target.
     * @param target The target's name.
     */
    add(target: string): void;
  }

  /**
   * A load balancer over targets of any kind, each with a pool of resources,
   * chosen by weighted round robin or by least load.
   */
  class LoadBalancer {
    /**
     * Makes a load balancer.
     * @param targets The targets.
     * @param options `algorithm` is `'round-robin'` (the default) or `'least-load'`; `key` names a target; `weight` gives its weight (1 by default, 0 never chosen); `capacity` caps the resources out at once per target (0 for no cap).
     */
    constructor(
      targets: Array<any>,
      options?: {
        algorithm?: 'round-robin' | 'least-load';
        key?: (target: any) => any;
        weight?: (target: any) => number;
        capacity?: number | ((target: any) => number);
      }
    );
    /**
     * Replaces the targets, keeping the pools and loads of those that stay.
     * @param targets The new targets.
     */
    provision(targets: Array<any>): void;
    /**
     * Lists the next choices, counting them as made.
     * @param count How many choices to make.
     * @param validator Skips targets it answers falsy for.
     * @returns The chosen targets, in order.
     */
    schedule(count: number, validator?: (target: any) => boolean): Array<any>;
    /**
     * Hands out a resource of a target: the one whose key is `tag` when it is there and valid, else the next one chosen.
     * @param tag The key of a preferred target.
     * @param validator Skips targets it answers falsy for.
     * @returns The resource, or null when no target is available.
     */
    allocate(tag?: any, validator?: (target: any) => boolean): algo.LoadBalancerResource | null;
  }

  /** A resource handed out by `LoadBalancer.allocate`; scripts do not make these themselves. */
  class LoadBalancerResource {
    /** The target the resource belongs to. */
    readonly target: any;
    /** Gives the resource back to its target's pool. */
    free(): void;
  }
}

// ---------------------------------------------------------------------------
// crypto
// ---------------------------------------------------------------------------

/** Digests, ciphers, signatures, keys, certificates and JSON Web Tokens. */
declare namespace crypto {
  /** Options for making and signing a certificate. */
  interface CertificateOptions {
    /** Name attributes by short or long name, such as `CN` or `commonName`. */
    subject: Record<string, string>;
    /** The key that signs the certificate. */
    privateKey: crypto.PrivateKey;
    /** The key the certificate is for; the signer's own when an issuer is given and this is not. */
    publicKey?: crypto.PublicKey;
    /** The issuing CA's certificate; without it the certificate is self-signed. */
    issuer?: crypto.Certificate;
    /** How many days it stays valid; 30 when not given. */
    days?: number;
    /** Seconds to move the validity start by. */
    timeOffset?: number;
    /** Extensions in OpenSSL's notation, such as `basicConstraints: 'CA:TRUE'` or `subjectAltName: 'DNS:a.example'`. */
    extensions?: Record<string, string>;
  }

  /** An X.509 certificate. */
  class Certificate {
    /**
     * Reads the first certificate of a PEM text.
     * @param pem The PEM text.
     */
    constructor(pem: string | Data);
    /**
     * Makes and signs a new certificate.
     * @param options The subject, keys, issuer and validity.
     */
    constructor(options: crypto.CertificateOptions);
    /** The subject's name attributes, by long name (`commonName`, `organizationName`, ...). */
    readonly subject: Record<string, string>;
    /** The issuer's name attributes, by long name. */
    readonly issuer: Record<string, string>;
    /** The DNS names the certificate covers. */
    readonly subjectAltNames: Array<string>;
    /** When validity starts, in milliseconds since the Unix epoch. */
    readonly notBefore: number;
    /** When validity ends, in milliseconds since the Unix epoch. */
    readonly notAfter: number;
    /**
     * Writes the certificate as PEM.
     * @returns The PEM text's bytes.
     */
    toPEM(): Data;
  }

  /** A list of certificates, the leaf first, as TLS options take it. */
  class CertificateChain {
    /**
     * Reads every certificate of a PEM text, in order.
     * @param pem The PEM text.
     */
    constructor(pem: string | Data);
  }

  /** A private key: RSA, ECDSA or Ed25519. */
  class PrivateKey {
    /**
     * Reads the first private key of a PEM text.
     * @param pem The PEM text.
     */
    constructor(pem: string | Data);
    /**
     * Makes a new key; EC (P-256) and Ed25519 keys can be made, RSA and DSA ones only read.
     * @param options The kind of key.
     */
    constructor(options: { type: 'ec' | 'ecdsa' | 'ed25519' });
    /**
     * Writes the key as PKCS#8 PEM.
     * @returns The PEM text's bytes.
     */
    toPEM(): Data;
  }

  /** A public key. */
  class PublicKey {
    /**
     * Reads a public key, or takes the public half of a private key.
     * @param source PEM text of a public key, or a private key.
     */
    constructor(source: string | Data | crypto.PrivateKey);
    /**
     * Writes the key as PEM.
     * @returns The PEM text's bytes.
     */
    toPEM(): Data;
  }

  /** AES encryption in CBC, ECB or CTR mode. */
  class Cipher {
    /**
     * Starts an encryption.
     * @param algorithm OpenSSL's name for it, such as `'aes-256-cbc'` or `'aes-128-ctr'`.
     * @param options The key, and an IV of 16 bytes (zeros when not given).
     */
    constructor(algorithm: string, options: { key: string | Data; iv?: string | Data });
    /**
     * Encrypts more input.
     * @param data The plain text.
     * @returns What is ready so far.
     */
    update(data: string | Data): Data;
    /**
     * Finishes, padding the last block in CBC and ECB modes.
     * @returns The rest of the output.
     */
    final(): Data;
  }

  /** AES decryption in CBC, ECB or CTR mode. */
  class Decipher {
    /**
     * Starts a decryption.
     * @param algorithm OpenSSL's name for it, such as `'aes-256-cbc'`.
     * @param options The key, and an IV of 16 bytes (zeros when not given).
     */
    constructor(algorithm: string, options: { key: string | Data; iv?: string | Data });
    /**
     * Decrypts more input.
     * @param data The cipher text.
     * @returns What is ready so far.
     */
    update(data: string | Data): Data;
    /**
     * Finishes, checking and removing the padding in CBC and ECB modes.
     * @returns The rest of the output.
     */
    final(): Data;
  }

  /** A message digest: md5, sha1, sha224, sha256, sha384 or sha512. */
  class Hash {
    /**
     * Starts a digest.
     * @param algorithm The digest's name, such as `'sha256'`.
     */
    constructor(algorithm: string);
    /**
     * Adds input.
     * @param data Bytes, or text.
     * @param encoding How text becomes bytes; UTF-8 when not given.
     */
    update(data: string | Data | Array<number>, encoding?: DataEncoding): void;
    /**
     * Finishes the digest; it can be taken once.
     * @returns The digest's bytes.
     */
    digest(): Data;
    digest(encoding: DataEncoding): string;
  }

  /** A keyed digest (HMAC) over the same digests `Hash` has. */
  class Hmac {
    /**
     * Starts a keyed digest.
     * @param algorithm The digest's name, such as `'sha256'`.
     * @param key The secret key.
     */
    constructor(algorithm: string, key: string | Data);
    /**
     * Adds input.
     * @param data Bytes, or text.
     * @param encoding How text becomes bytes; UTF-8 when not given.
     */
    update(data: string | Data | Array<number>, encoding?: DataEncoding): void;
    /**
     * Finishes the digest; it can be taken once.
     * @returns The digest's bytes.
     */
    digest(): Data;
    digest(encoding: DataEncoding): string;
  }

  /** Makes a signature with RSA (PKCS#1 v1.5), ECDSA or Ed25519. */
  class Sign {
    /**
     * Starts a signature.
     * @param algorithm The digest to sign with, such as `'sha256'`.
     */
    constructor(algorithm: string);
    /**
     * Adds input to be signed.
     * @param data Bytes, or text.
     * @param encoding How text becomes bytes; UTF-8 when not given.
     */
    update(data: string | Data | Array<number>, encoding?: DataEncoding): void;
    /**
     * Signs what was given.
     * @param key The private key.
     * @returns The signature's bytes (DER for ECDSA).
     */
    sign(key: crypto.PrivateKey): Data;
    sign(key: crypto.PrivateKey, encoding: DataEncoding): string;
  }

  /** Checks a signature made with RSA (PKCS#1 v1.5), ECDSA or Ed25519. */
  class Verify {
    /**
     * Starts a check.
     * @param algorithm The digest the signature was made with, such as `'sha256'`.
     */
    constructor(algorithm: string);
    /**
     * Adds input that was signed.
     * @param data Bytes, or text.
     * @param encoding How text becomes bytes; UTF-8 when not given.
     */
    update(data: string | Data | Array<number>, encoding?: DataEncoding): void;
    /**
     * Checks the signature against what was given.
     * @param key The public key.
     * @param signature The signature, as bytes or encoded text.
     * @param encoding How a text signature is encoded.
     * @returns True when the signature holds.
     */
    verify(key: crypto.PublicKey, signature: Data | string, encoding?: DataEncoding): boolean;
  }

  /** A JSON Web Key: an RSA or EC public key. */
  class JWK {
    /**
     * Reads a key; a missing or unknown `kty`, `crv` or key field throws.
     * @param json The key as an object with `kty` and its fields.
     */
    constructor(json: object);
    /** True for a key that was read. */
    readonly isValid: boolean;
  }

  /** A JSON Web Token in compact form, signed with HS, RS or ES algorithms. */
  class JWT {
    /**
     * Reads a token; a malformed one does not throw but is not valid.
     * @param token The token text.
     */
    constructor(token: string);
    /** True when the token has three parts, a JSON header and payload, and a known `alg`. */
    readonly isValid: boolean;
    /** The header object. */
    readonly header: any;
    /** The payload object. */
    readonly payload: any;
    /**
     * Checks the token's signature.
     * @param key The secret for HS algorithms; a PEM public key, a JWK or a PublicKey for RS and ES.
     * @returns True when the signature holds.
     */
    verify(key: string | Data | crypto.JWK | crypto.PublicKey): boolean;
  }
}

// ---------------------------------------------------------------------------
// http
// ---------------------------------------------------------------------------

/** HTTP helpers for scripts: a client and a static file server. */
declare namespace http {
  /** The head of an HTTP request message. */
  interface RequestHead {
    /** `'HTTP/1.0'` or `'HTTP/1.1'`. */
    protocol: string;
    /** The request method. */
    method: string;
    /** The request target: path and query. */
    path: string;
    /** The scheme, for HTTP/2 requests. */
    scheme?: string;
    /** The authority, for HTTP/2 requests. */
    authority?: string;
    /** Headers by lower-case name; a repeated header has an array. */
    headers: Record<string, string | Array<string>>;
    /** The original spelling of header names that were not lower-case, by lower-case name. */
    readonly headerNames: Record<string, string>;
  }

  /** The head of an HTTP response message. */
  interface ResponseHead {
    /** `'HTTP/1.0'` or `'HTTP/1.1'`. */
    protocol: string;
    /** The status code. */
    status: number;
    /** The reason phrase. */
    statusText: string;
    /** Headers by lower-case name; a repeated header has an array. */
    headers: Record<string, string | Array<string>>;
    /** The original spelling of header names that were not lower-case, by lower-case name. */
    readonly headerNames: Record<string, string>;
  }

  /** The tail of a decoded HTTP message. */
  interface MessageTail {
    /** Trailers; null as they are not kept. */
    headers: Record<string, string> | null;
    /** Bytes of the head. */
    headSize: number;
    /** Bytes of the body. */
    bodySize: number;
  }

  /** TLS options of an Agent, as `connectTLS` takes them. */
  interface TLSOptions {
    /** The client certificate and its key. */
    certificate?: { cert: crypto.Certificate | crypto.CertificateChain; key: crypto.PrivateKey };
    /** The certificates to trust. */
    trusted?: Array<crypto.Certificate>;
    /** The server name to send. */
    sni?: string | (() => string);
    /** The protocols to offer. */
    alpn?: string | Array<string>;
    /** Decides whether a certificate of the peer is accepted. */
    verify?: (ok: boolean, cert: crypto.Certificate) => boolean;
  }

  /** Options of an Agent: TLS, the HTTP muxer and the connection. */
  interface AgentOptions extends SocketOptions {
    /** Connects with TLS; an empty object uses the defaults. */
    tls?: http.TLSOptions;
    /** The HTTP version to speak. */
    version?: number | string;
    /** How long an idle connection is kept, in seconds or text with a unit. */
    maxIdle?: number | string;
    /** Most requests waiting on one connection. */
    maxQueue?: number;
    /** Most requests sent on one connection. */
    maxMessages?: number;
    /** Buffer size of the codec. */
    bufferSize?: number | string;
    /** Largest head accepted. */
    maxHeaderSize?: number | string;
    /** Time allowed to connect, in seconds or text with a unit. */
    connectTimeout?: number | string;
    /** How many times a failed connection is tried again. */
    retryCount?: number;
    /** Time between tries. */
    retryDelay?: number | string;
  }

  /** An HTTP client whose connections are pooled and kept alive. */
  class Agent {
    /**
     * Makes a client for one server.
     * @param host The server, with an optional port (80, or 443 with TLS, otherwise).
     * @param options TLS, muxer and connection options.
     */
    constructor(host: string, options?: http.AgentOptions);
    /**
     * Sends a request; a `host` header is added unless given.
     * @param method The method; `'GET'` when not given.
     * @param path The path; `'/'` when not given.
     * @param headers Request headers.
     * @param body The request body.
     * @returns A Promise of the response; when none came, of one whose status tells the error (502, 504, ...).
     */
    request(method?: string, path?: string, headers?: Record<string, string | Array<string>>, body?: string | Data): Promise<Message>;
  }

  /** Options of a Directory. */
  interface DirectoryOptions {
    /** True serves from the file system instead of the codebase. */
    fs?: boolean;
    /** The index file names tried for a folder; `index` then `index.html` by default. */
    index?: string | Array<string>;
    /** Content types by file extension, or a function that gives them for a request. */
    contentTypes?: Record<string, string> | ((request: http.RequestHead, pathname: string) => string | Record<string, string>);
    /** The content type of a file whose extension is unknown. */
    defaultContentType?: string;
    /** Decides whether to gzip a file for a client that accepts it, by answering `'gzip'`. */
    compression?: (request: http.RequestHead, accepted: { gzip?: boolean; br?: boolean }, pathname: string, size: number) => string | undefined;
  }

  /** Static files for HTTP requests, with content types and pre-compressed variants. */
  class Directory {
    /**
     * Serves the files under a folder.
     * @param path The folder, in the codebase or (with `fs`) on disk.
     * @param options Index files, content types and compression.
     */
    constructor(path: string, options?: http.DirectoryOptions);
    /** The built-in content types by file extension. */
    static readonly defaultContentTypes: Record<string, string>;
    /**
     * Answers a request for a file.
     * @param request The request message.
     * @returns The response, or null when no file matches.
     */
    serve(request: Message): Message | null;
  }
}

// ---------------------------------------------------------------------------
// logging
// ---------------------------------------------------------------------------

/** Script loggers that send lines to the standard streams, files, syslog or HTTP collectors. */
declare namespace logging {
  /** Syslog severities, from most to least severe. */
  type SyslogPriority = 'EMERG' | 'ALERT' | 'CRIT' | 'ERR' | 'WARNING' | 'NOTICE' | 'INFO' | 'DEBUG';

  /** Options of a log file. */
  interface FileOptions {
    /** Size past which the file is rotated. */
    maxFileSize?: number | string;
    /** How many rotated files are kept. */
    maxFileCount?: number;
    /** Time after which the file is rotated, in seconds or text with a unit. */
    rotateInterval?: number | string;
  }

  /** Options of an HTTP log collector. */
  interface HTTPOptions {
    /** The request method; `'POST'` when not given. */
    method?: string;
    /** Request headers. */
    headers?: Record<string, string>;
    /** Bytes held at most; lines past it are dropped. */
    bufferLimit?: number | string;
    /** How lines are gathered into one request. */
    batch?: {
      size?: number;
      timeout?: number | string;
      interval?: number | string;
      prefix?: string | Data;
      postfix?: string | Data;
      separator?: string | Data;
      vacancy?: number;
    };
    /** TLS options for an https collector. */
    tls?: http.TLSOptions;
  }

  /** A logger that writes values as text separated by spaces; an object is followed by its JSON. */
  class TextLogger {
    /**
     * Makes a logger.
     * @param name The log's name, under which its history is kept.
     */
    constructor(name: string);
    /**
     * Writes one line made of the values to every target.
     * @param values What to log.
     */
    log(...values: Array<any>): void;
    /**
     * Adds the standard output as a target.
     * @returns This logger.
     */
    toStdout(): logging.TextLogger;
    /**
     * Adds the standard error as a target.
     * @returns This logger.
     */
    toStderr(): logging.TextLogger;
    /**
     * Adds a file as a target, appended to and shared with other loggers writing it.
     * @param filename The file's path.
     * @param options Rotation options.
     * @returns This logger.
     */
    toFile(filename: string, options?: logging.FileOptions): logging.TextLogger;
    /**
     * Adds the system log as a target.
     * @param priority The severity; `'INFO'` when not given.
     * @returns This logger.
     */
    toSyslog(priority?: logging.SyslogPriority): logging.TextLogger;
    /**
     * Adds an HTTP collector as a target, which lines are posted to in batches.
     * @param url An http or https URL.
     * @param options Method, headers, batching and limits.
     * @returns This logger.
     */
    toHTTP(url: string, options?: logging.HTTPOptions): logging.TextLogger;
  }

  /** A logger that writes the JSON of each value. */
  class JSONLogger {
    /**
     * Makes a logger.
     * @param name The log's name, under which its history is kept.
     */
    constructor(name: string);
    /**
     * Writes one line made of the values to every target.
     * @param values What to log.
     */
    log(...values: Array<any>): void;
    /**
     * Adds the standard output as a target.
     * @returns This logger.
     */
    toStdout(): logging.JSONLogger;
    /**
     * Adds the standard error as a target.
     * @returns This logger.
     */
    toStderr(): logging.JSONLogger;
    /**
     * Adds a file as a target, appended to and shared with other loggers writing it.
     * @param filename The file's path.
     * @param options Rotation options.
     * @returns This logger.
     */
    toFile(filename: string, options?: logging.FileOptions): logging.JSONLogger;
    /**
     * Adds the system log as a target.
     * @param priority The severity; `'INFO'` when not given.
     * @returns This logger.
     */
    toSyslog(priority?: logging.SyslogPriority): logging.JSONLogger;
    /**
     * Adds an HTTP collector as a target, which lines are posted to in batches.
     * @param url An http or https URL.
     * @param options Method, headers, batching and limits.
     * @returns This logger.
     */
    toHTTP(url: string, options?: logging.HTTPOptions): logging.JSONLogger;
  }

  /** A logger that writes raw bytes: Data as it is, text as UTF-8, arrays as byte values. */
  class BinaryLogger {
    /**
     * Makes a logger.
     * @param name The log's name, under which its history is kept.
     */
    constructor(name: string);
    /**
     * Writes one record made of the values to every target.
     * @param values What to log.
     */
    log(...values: Array<any>): void;
    /**
     * Adds the standard output as a target.
     * @returns This logger.
     */
    toStdout(): logging.BinaryLogger;
    /**
     * Adds the standard error as a target.
     * @returns This logger.
     */
    toStderr(): logging.BinaryLogger;
    /**
     * Adds a file as a target, appended to and shared with other loggers writing it.
     * @param filename The file's path.
     * @param options Rotation options.
     * @returns This logger.
     */
    toFile(filename: string, options?: logging.FileOptions): logging.BinaryLogger;
    /**
     * Adds the system log as a target.
     * @param priority The severity; `'INFO'` when not given.
     * @returns This logger.
     */
    toSyslog(priority?: logging.SyslogPriority): logging.BinaryLogger;
    /**
     * Adds an HTTP collector as a target, which records are posted to in batches.
     * @param url An http or https URL.
     * @param options Method, headers, batching and limits.
     * @returns This logger.
     */
    toHTTP(url: string, options?: logging.HTTPOptions): logging.BinaryLogger;
  }
}

// ---------------------------------------------------------------------------
// stats
// ---------------------------------------------------------------------------

/** Metrics shared by every worker thread and shown on the admin port's `/metrics`. */
declare namespace stats {
  /** A counter that only goes up. */
  class Counter {
    /**
     * Makes or finds a counter; the same name gives the same metric, which keeps its values across reloads.
     * @param name The metric's name.
     * @param labelNames The names of its label levels.
     */
    constructor(name: string, labelNames?: Array<string>);
    /** The metric's name. */
    readonly name: string;
    /**
     * Goes down one or more label levels.
     * @param values A value for each label level.
     * @returns The sub-metric for those values.
     */
    withLabels(...values: Array<string>): stats.Counter;
    /** Removes every sub-metric. */
    clear(): void;
    /** Sets the value back to 0. */
    zero(): void;
    /**
     * Adds to the count.
     * @param n How much to add; 1 when not given.
     */
    increase(n?: number): void;
    /**
     * Does nothing: a counter only goes up (kept so that scripts that call it still run).
     * @param n Ignored.
     */
    decrease(n?: number): void;
  }

  /** A value that goes up and down. */
  class Gauge {
    /**
     * Makes or finds a gauge; the same name gives the same metric, which keeps its values across reloads.
     * @param name The metric's name.
     * @param labelNames The names of its label levels.
     * @param onCollect Called with the gauge just before metrics are read, to update it.
     */
    constructor(name: string, labelNames?: Array<string>, onCollect?: (gauge: stats.Gauge) => void);
    /** The metric's name. */
    readonly name: string;
    /**
     * Goes down one or more label levels.
     * @param values A value for each label level.
     * @returns The sub-metric for those values.
     */
    withLabels(...values: Array<string>): stats.Gauge;
    /** Removes every sub-metric. */
    clear(): void;
    /** Sets the value back to 0. */
    zero(): void;
    /**
     * Adds to the value.
     * @param n How much to add; 1 when not given.
     */
    increase(n?: number): void;
    /**
     * Takes from the value.
     * @param n How much to take; 1 when not given.
     */
    decrease(n?: number): void;
    /**
     * Sets the value.
     * @param value The new value.
     */
    set(value: number): void;
  }

  /** Counts of observed values by bucket. */
  class Histogram {
    /**
     * Makes or finds a histogram; the same name gives the same metric.
     * @param name The metric's name.
     * @param buckets The buckets' upper bounds, at least one.
     * @param labelNames The names of its label levels.
     */
    constructor(name: string, buckets: Array<number>, labelNames?: Array<string>);
    /** The metric's name. */
    readonly name: string;
    /**
     * Goes down one or more label levels.
     * @param values A value for each label level.
     * @returns The sub-metric for those values.
     */
    withLabels(...values: Array<string>): stats.Histogram;
    /** Removes every sub-metric. */
    clear(): void;
    /** Sets every count back to 0. */
    zero(): void;
    /**
     * Counts one value into its bucket.
     * @param value The value observed.
     */
    observe(value: number): void;
  }

  /** A snapshot of a metric, as `stats.sum` gives it. */
  interface Metric {
    /** The metric's name. */
    readonly name: string;
    /** `'Counter'`, `'Gauge'` or `'Histogram'`. */
    readonly type: string;
    /** The label value of a sub-metric; undefined at the top. */
    readonly label: string | undefined;
    /** The value; for a histogram, the bucket counts then the count and the sum. */
    readonly value: number | Array<number>;
    /** For a histogram, the values under which a share of the samples fall. */
    percentile?: stats.Percentile;
    /**
     * Lists the sub-metrics one label level down.
     * @returns One snapshot per label value.
     */
    submetrics(): Array<stats.Metric>;
  }

  /** Percentiles of a histogram snapshot. */
  interface Percentile {
    /**
     * Estimates a percentile, interpolating within its bucket.
     * @param p The percentage, from 0 to 100.
     * @returns The value under which `p` percent of the samples fall.
     */
    calculate(p: number): number;
  }

  /**
   * Takes snapshots of metrics summed over every worker thread.
   * @param names The metrics' names.
   * @returns A Promise of the snapshots by name; unknown names are left out.
   */
  function sum(names: Array<string>): Promise<Record<string, stats.Metric>>;
}

// ---------------------------------------------------------------------------
// os
// ---------------------------------------------------------------------------

/** The operating system: environment, files and processes. */
declare namespace os {
  /** The process's environment variables. */
  const env: Record<string, string>;
  /** The name of the operating system, such as `'linux'`. */
  const platform: string;

  /** What `os.stat` tells about a file. */
  interface Stats {
    /** The device the file is on. */
    dev: number;
    /** The inode number. */
    ino: number;
    /** The file type and permission bits. */
    mode: number;
    /** The number of hard links. */
    nlink: number;
    /** The owner's user id. */
    uid: number;
    /** The owner's group id. */
    gid: number;
    /** The device id of a special file. */
    rdev: number;
    /** The size in bytes. */
    size: number;
    /** The preferred block size for I/O. */
    blksize: number;
    /** The number of 512-byte blocks allocated. */
    blocks: number;
    /** The last access time, in seconds since the Unix epoch. */
    atime: number;
    /** The last modification time, in seconds since the Unix epoch. */
    mtime: number;
    /** The last status change time, in seconds since the Unix epoch. */
    ctime: number;
    /**
     * Tells whether it is a regular file.
     * @returns True when it is.
     */
    isFile(): boolean;
    /**
     * Tells whether it is a directory.
     * @returns True when it is.
     */
    isDirectory(): boolean;
    /**
     * Tells whether it is a character device.
     * @returns True when it is.
     */
    isCharacterDevice(): boolean;
    /**
     * Tells whether it is a block device.
     * @returns True when it is.
     */
    isBlockDevice(): boolean;
    /**
     * Tells whether it is a named pipe.
     * @returns True when it is.
     */
    isFIFO(): boolean;
    /**
     * Tells whether it is a symbolic link; never, as links are followed.
     * @returns False.
     */
    isSymbolicLink(): boolean;
    /**
     * Tells whether it is a socket.
     * @returns True when it is.
     */
    isSocket(): boolean;
  }

  /**
   * Reads a whole file; a failure is logged.
   * @param filename The file's path.
   * @returns The content, or null when it cannot be read.
   */
  function readFile(filename: string): Data | null;
  /**
   * Writes a whole file, replacing it; a failure is logged.
   * @param filename The file's path.
   * @param data The content.
   */
  function writeFile(filename: string, data: Data | string): void;
  /**
   * Lists a directory; hidden entries are left out.
   * @param dirname The directory's path.
   * @returns Entry names, directories with a trailing `/`; empty when it cannot be read.
   */
  function readDir(dirname: string): Array<string>;
  /**
   * Lists a directory, as `readDir` does.
   * @param dirname The directory's path.
   * @returns Entry names, directories with a trailing `/`.
   */
  function list(dirname: string): Array<string>;
  /**
   * Tells about a file, following links.
   * @param filename The file's path.
   * @returns Its details, or null when it is not there.
   */
  function stat(filename: string): os.Stats | null;
  /**
   * Deletes a file.
   * @param filename The file's path.
   * @returns True when it went.
   */
  function unlink(filename: string): boolean;
  /**
   * Reads a whole file; a failure throws.
   * @param filename The file's path.
   * @returns The content.
   */
  function read(filename: string): Data;
  /**
   * Writes a whole file, replacing it; a failure throws.
   * @param filename The file's path.
   * @param data The content.
   */
  function write(filename: string, data: Data | string): void;
  /**
   * Renames or moves a file.
   * @param oldPath Where it is.
   * @param newPath Where it goes.
   */
  function rename(oldPath: string, newPath: string): void;
  /**
   * Makes a directory.
   * @param path The directory's path.
   * @param options `recursive` makes missing parents too.
   */
  function mkdir(path: string, options?: { recursive?: boolean }): void;
  /**
   * Removes a directory.
   * @param path The directory's path.
   * @param options `recursive` removes its content too; `force` makes a missing path no error.
   * @returns True when something was removed.
   */
  function rmdir(path: string, options?: { recursive?: boolean; force?: boolean }): boolean;
  /**
   * Removes a file or a directory.
   * @param path The path.
   * @param options `recursive` removes a directory's content too; `force` makes a missing path no error.
   * @returns True when something was removed.
   */
  function rm(path: string, options?: { recursive?: boolean; force?: boolean }): boolean;
  /**
   * Changes the working directory.
   * @param path The new working directory.
   */
  function chdir(path: string): void;
  /**
   * Gives the user's home directory.
   * @returns The value of `HOME`, or empty.
   */
  function home(): string;
  /**
   * Makes a path absolute against the working directory.
   * @param path The path.
   * @returns The absolute, normalized path.
   */
  function abspath(path: string): string;
  /**
   * Sends a signal to a process.
   * @param pid The process id; must be above 0.
   * @param signal The signal number; 0 (the default) only checks that the process exists.
   */
  function kill(pid: number, signal?: number): void;

  /** Path manipulation on `/`-separated paths, as Node's `path` does it. */
  namespace path {
    /**
     * Gives the last part of a path, trailing `/` ignored.
     * @param path The path.
     * @param suffix An ending to remove from the result.
     * @returns The last part.
     */
    function basename(path: string, suffix?: string): string;
    /**
     * Gives all but the last part of a path.
     * @param path The path.
     * @returns The parent: `.` when there is none, `/` at the root.
     */
    function dirname(path: string): string;
    /**
     * Joins parts with `/` and normalizes the result; empty parts are skipped.
     * @param parts The parts.
     * @returns The joined path.
     */
    function join(...parts: Array<string>): string;
    /**
     * Resolves parts into an absolute path from the working directory; an absolute part starts over.
     * @param parts The parts.
     * @returns The absolute path.
     */
    function resolve(...parts: Array<string>): string;
    /**
     * Resolves `.` and `..` and collapses repeated `/`.
     * @param path The path.
     * @returns The normalized path.
     */
    function normalize(path: string): string;
  }
}

// ---------------------------------------------------------------------------
// sqlite
// ---------------------------------------------------------------------------

/**
 * Opens a SQLite database file, making it when it is not there. Errors read
 * `SQLite error: ...`.
 * @param filename The database file's path.
 * @returns The open database.
 */
declare function sqlite(filename: string): sqlite.Database;

/** The objects `sqlite()` gives. */
declare namespace sqlite {
  /** An open SQLite database. */
  interface Database {
    /**
     * Runs one or more SQL statements.
     * @param sql The statements.
     * @returns Every row they give, as objects of text (or null) by column name.
     */
    exec(sql: string): Array<Record<string, string | null>>;
    /**
     * Prepares a statement, checking it now.
     * @param sql One statement, with `?` parameters.
     * @returns The statement.
     */
    sql(sql: string): sqlite.Statement;
    /** Closes the database; later calls fail. */
    close(): void;
  }

  /** A prepared SQL statement. */
  interface Statement {
    /**
     * Gives a parameter its value.
     * @param index The parameter's position, from 1.
     * @param value Null, a boolean, a number, an Int, text or Data.
     * @returns This statement.
     */
    bind(index: number, value: any): sqlite.Statement;
    /**
     * Starts the statement over at its first row.
     * @returns This statement.
     */
    reset(): sqlite.Statement;
    /**
     * Runs the statement.
     * @returns Every row, as objects by column name with typed values: numbers, an Int past 32 bits, text, Data for blobs, or null.
     */
    exec(): Array<Record<string, any>>;
    /**
     * Moves onto the next row.
     * @returns False while there is a row, true when none is left.
     */
    step(): boolean;
    /**
     * Gives the row `step` is on.
     * @returns The row by column name, or null.
     */
    row(): Record<string, any> | null;
    /**
     * Gives one value of the row `step` is on.
     * @param index The column's position, from 0.
     * @returns The value, or undefined.
     */
    column(index: number): any;
  }
}
