%% The BEAM side of `npm run bench -- dist`: the same two roles as dist-node.ts,
%% measured the same way. `serve` runs on node B (echo, sink and a directory that
%% hands out their pids); `client` runs on node A, measures one figure against B,
%% prints "figure value" lines and halts.
-module(dist_bench).
-export([serve/0, client/1]).

%% Keep these in step with dist-node.ts.
-define(RTT_WARMUP, 2000).
-define(RTT_SAMPLES, 20000).
-define(STREAM_N, 1000000).

now_us() -> erlang:monotonic_time(microsecond).

%% --- node B ---------------------------------------------------------------

serve() ->
    Echo = spawn(fun echo/0),
    Sink = spawn(fun sink/0),
    register(bench, spawn(fun() -> directory(Echo, Sink) end)),
    io:format("ready~n").

directory(Echo, Sink) ->
    receive {pids, From} -> From ! {pids, Echo, Sink} end,
    directory(Echo, Sink).

echo() ->
    receive {From, X} -> From ! X end,
    echo().

sink() ->
    receive {start, N, From} -> sink(N, From) end.
sink(0, From) -> From ! done, sink();
sink(N, From) -> receive {msg, _} -> sink(N - 1, From) end.

%% --- node A ---------------------------------------------------------------

client([Fig, PeerS]) ->
    Peer = list_to_atom(PeerS),
    case Fig of
        "connect" ->
            T0 = erlang:monotonic_time(nanosecond),
            true = net_kernel:connect_node(Peer),
            out(first_connect_ms, (erlang:monotonic_time(nanosecond) - T0) / 1.0e6);
        "rtt" ->
            {Echo, _} = pids(Peer),
            rtt(Echo, ?RTT_WARMUP, []),
            Sorted = lists:sort(rtt(Echo, ?RTT_SAMPLES, [])),
            out(rtt_median_us, rank(Sorted, 0.5)),
            out(rtt_p99_us, rank(Sorted, 0.99));
        "stream" ->
            {_, Sink} = pids(Peer),
            T0 = now_us(),
            Sink ! {start, ?STREAM_N, self()},
            send_n(Sink, 0, ?STREAM_N),
            receive done -> ok end,
            out(stream_msgs_per_s, ?STREAM_N / ((now_us() - T0) / 1.0e6))
    end,
    halt().

pids(Peer) ->
    {bench, Peer} ! {pids, self()},
    receive {pids, E, S} -> {E, S} after 20000 -> exit(no_directory) end.

%% One small message out, its echo back, one at a time; samples in microseconds.
rtt(_, 0, Acc) -> Acc;
rtt(Echo, N, Acc) ->
    T0 = erlang:monotonic_time(nanosecond),
    Echo ! {self(), N},
    receive N -> ok end,
    rtt(Echo, N - 1, [(erlang:monotonic_time(nanosecond) - T0) / 1000 | Acc]).

%% Nearest-rank percentile of a sorted list (the same rule as dist-node.ts).
rank(Sorted, P) -> lists:nth(max(1, ceil(P * length(Sorted))), Sorted).

send_n(_, N, N) -> ok;
send_n(S, I, N) -> S ! {msg, I}, send_n(S, I + 1, N).

out(Name, V) -> io:format("~s ~p~n", [Name, V]).
