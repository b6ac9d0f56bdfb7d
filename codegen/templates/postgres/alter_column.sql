{%- if drop_default %}
ALTER TABLE {{ table }} ALTER COLUMN {{ column }} DROP DEFAULT;
{%- endif %}
{%- if let Some(t) = new_type %}
ALTER TABLE {{ table }} ALTER COLUMN {{ column }} TYPE {{ t }} USING {{ column }}::{{ t }};
{%- endif %}
{%- if let Some(d) = set_default %}
ALTER TABLE {{ table }} ALTER COLUMN {{ column }} SET DEFAULT {{ d }};
{%- endif %}
{%- if let Some(fill) = set_not_null %}
{%- if let Some(value) = fill %}
UPDATE {{ table }} SET {{ column }} = {{ value }} WHERE {{ column }} IS NULL;
{%- endif %}
ALTER TABLE {{ table }} ALTER COLUMN {{ column }} SET NOT NULL;
{%- endif %}
{%- if drop_not_null %}
ALTER TABLE {{ table }} ALTER COLUMN {{ column }} DROP NOT NULL;
{%- endif %}
