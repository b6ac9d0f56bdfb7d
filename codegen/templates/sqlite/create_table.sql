CREATE TABLE {% if if_missing %}IF NOT EXISTS {% endif %}{{ table }} (
{%- for c in columns %}
    {{ c.name }} {{ c.sql_type }}{% if !c.nullable %} NOT NULL{% endif %}{% if let Some(d) = c.default %} DEFAULT {{ d }}{% endif %},
{%- endfor %}
    CONSTRAINT {{ pk_name }} PRIMARY KEY ({{ pk_columns|join(", ") }})
);
