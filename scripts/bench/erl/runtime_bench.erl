%% The BEAM side of `npm run bench -- runtime`: the same figures as runtime.ts,
%% measured the same way, printed as "figure value" lines.
-module(runtime_bench).
-behaviour(gen_server).
-export([main/1, init/1, handle_call/3, handle_cast/2, idle/0]).

now_us() -> erlang:monotonic_time(microsecond).

%% Local streaming send: one sender, one sink counting to N.
sink(0, From) -> From ! sunk;
sink(N, From) -> receive _ -> sink(N - 1, From) end.
send_n(_, 0) -> ok;
send_n(S, N) -> S ! {msg, N}, send_n(S, N - 1).
stream(N) ->
    Self = self(),
    S = spawn(fun() -> sink(N, Self) end),
    T0 = now_us(),
    send_n(S, N),
    receive sunk -> ok end,
    N / ((now_us() - T0) / 1.0e6).

%% Ping-pong between two processes.
pong() -> receive {ping, P} -> P ! pong, pong(); stop -> ok end.
pp(_, 0) -> ok;
pp(P, N) -> P ! {ping, self()}, receive pong -> pp(P, N - 1) end.
pingpong(N) ->
    P = spawn(fun pong/0),
    T0 = now_us(), pp(P, N), T = now_us() - T0,
    P ! stop,
    N / (T / 1.0e6).

%% gen_server:call round trips from one client process.
init([]) -> {ok, 0}.
handle_call(ping, _From, S) -> {reply, pong, S + 1}.
handle_cast(_, S) -> {noreply, S}.
calls(_, 0) -> ok;
calls(P, N) -> pong = gen_server:call(P, ping), calls(P, N - 1).
call_rate(N) ->
    {ok, P} = gen_server:start(?MODULE, [], []),
    T0 = now_us(), calls(P, N), T = now_us() - T0,
    gen_server:stop(P),
    N / (T / 1.0e6).

%% Spawn rate and memory of idle processes.
idle() -> receive stop -> ok end.
spawn_rate(N) ->
    T0 = now_us(),
    Ps = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    T = now_us() - T0,
    [P ! stop || P <- Ps],
    N / (T / 1.0e6).
mem(N) ->
    erlang:garbage_collect(),
    M0 = erlang:memory(processes),
    Ps = [spawn(fun idle/0) || _ <- lists:seq(1, N)],
    M1 = erlang:memory(processes),
    [P ! stop || P <- Ps],
    (M1 - M0) / N.

main([Which]) ->
    case Which of
        "stream" -> out(stream_msgs_per_s, stream(5000000));
        "pingpong" -> out(pingpong_rt_per_s, pingpong(2000000));
        "call" -> out(gen_call_rt_per_s, call_rate(1000000));
        "spawn" -> out(spawn_per_s, spawn_rate(500000));
        "mem100k" -> out(bytes_per_idle_process_100k, mem(100000));
        "mem1m" -> out(bytes_per_idle_process_1m, mem(1000000))
    end,
    halt().

out(Name, V) -> io:format("~s ~p~n", [Name, V]).
