import gzip
data = gzip.compress(''.join(f'{i},val{i}\n' for i in range(20000)).encode())
open('t.csv.gz', 'wb').write(data[:len(data) // 2])
