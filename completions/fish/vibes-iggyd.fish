# fish completion for vibes-iggyd(8).  Options as in `vibes-iggyd --help`;
# tests/t/t4000 and t4010 keep them so.
set -l c vibes-iggyd
complete -c $c -f
complete -c $c -l data-dir -x -a '(__fish_complete_directories)' -d 'Data dir'
complete -c $c -l addr -x -a '127.0.0.1:8090 127.0.0.1:0' -d 'Listen address'
complete -c $c -l ready-fd -x -d 'Write "ready HOST:PORT" to this fd once listening'
complete -c $c -l http -x -a '127.0.0.1:3000 127.0.0.1:0' -d 'HTTP API listen address'
complete -c $c -l no-http -d 'No HTTP API'
complete -c $c -l fsync -x -a 'never\t"Leave it to the kernel" always\t"Before each acknowledgement" 1000\t"At least every 1000 ms"' -d 'When acknowledged messages reach the disk'
complete -c $c -l segment-size -x -d 'Segment file size in bytes'
complete -c $c -l cleaner-ms -x -d 'Retention check period in ms'
complete -c $c -l rebalance-ms -x -d 'Consumer-group rebalancing timeout in ms'
complete -c $c -l heartbeat-ms -x -d '0.9 heartbeat interval in ms'
complete -c $c -l max-connections -x -d 'Connections at once'
complete -c $c -l max-unauthenticated -x -d 'Connections not logged in'
complete -c $c -l max-input-buffer -x -d 'Request bytes held, all connections'
complete -c $c -l max-output -x -d 'Unsent reply bytes of a connection'
complete -c $c -l login-failures -x -d 'Failed logins in a row before close and delay'
complete -c $c -l login-delay-max -x -d 'Longest delay of a login after failures, in ms'
complete -c $c -l tls-cert -r -F -d 'TLS on the port with this certificate chain (PEM)'
complete -c $c -l tls-key -r -F -d 'Private key of the certificate (PEM)'
complete -c $c -l help -d 'Show the usage'
complete -c $c -l version -d 'Show the version'
