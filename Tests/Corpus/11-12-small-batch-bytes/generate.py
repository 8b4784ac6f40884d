# 300 rows whose v is an integer and a last row where it is text, and one record (id 150) far
# longer than a batch. In one batch, v is created as text; in batches of about 1 KiB, it is
# created as bigint from the first batch and widened by the last one, which the summary shows.
rows = ['id,v,note']
for i in range(1, 301):
    rows.append(f'{i},{i},{"x" * 5000 if i == 150 else "n"}')
rows.append('301,abc,n')
open('t.csv', 'w').write('\n'.join(rows) + '\n')
