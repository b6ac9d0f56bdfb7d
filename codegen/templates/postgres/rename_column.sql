ALTER TABLE {{ table }} RENAME COLUMN {{ from }} TO {{ to }};
