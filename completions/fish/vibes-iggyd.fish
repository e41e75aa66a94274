# fish completion for vibes-iggyd(8).  Options as in `vibes-iggyd --help`;
# tests/t/t4000 and t4010 keep them so.
set -l c vibes-iggyd
complete -c $c -f
complete -c $c -l data-dir -x -a '(__fish_complete_directories)' -d 'Data dir'
complete -c $c -l addr -x -a '127.0.0.1:8090 127.0.0.1:0' -d 'Listen address'
complete -c $c -l ready-fd -x -d 'Write "ready HOST:PORT" to this fd once listening'
complete -c $c -l fsync -x -a 'never\t"Leave it to the kernel" always\t"Before each acknowledgement" 1000\t"At least every 1000 ms"' -d 'When acknowledged messages reach the disk'
complete -c $c -l segment-size -x -d 'Segment file size in bytes'
complete -c $c -l cleaner-ms -x -d 'Retention check period in ms'
complete -c $c -l rebalance-ms -x -d 'Consumer-group rebalancing timeout in ms'
complete -c $c -l heartbeat-ms -x -d '0.9 heartbeat interval in ms'
complete -c $c -l help -d 'Show the usage'
complete -c $c -l version -d 'Show the version'
