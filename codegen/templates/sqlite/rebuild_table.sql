-- SQLite cannot alter a column or a primary key in place: the table is rebuilt with its data
-- (https://www.sqlite.org/lang_altertable.html#otheralter).
{% include "sqlite/create_table.sql" %}
INSERT INTO {{ table }} ({{ copy_columns|join(", ") }})
    SELECT {% for v in copy_values %}{% if !loop.first %}, {% endif %}{% if let Some(fill) = v.fill %}COALESCE({{ v.column }}, {{ fill }}){% else %}{{ v.column }}{% endif %}{% endfor %} FROM {{ old_table }};
DROP TABLE {{ old_table }};
ALTER TABLE {{ table }} RENAME TO {{ final_table }};
