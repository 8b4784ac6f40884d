# A full snapshot, and the same snapshot cut in half (a download that stopped midway).
import gzip
full = gzip.compress(''.join(f'{i},val{i}\n' for i in range(20000)).encode())
open('full.csv.gz', 'wb').write(full)
open('half.csv.gz', 'wb').write(full[:len(full) // 2])
