ALTER TABLE {{ table }} ADD COLUMN {{ c.name }} {{ c.sql_type }}{% if !c.nullable %} NOT NULL{% endif %}{% if let Some(d) = c.default %} DEFAULT {{ d }}{% endif %};
